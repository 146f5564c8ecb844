"""The API Gateway side of both Lambdas: one resolver setup and the one error → HTTP mapping.

Every error a front door reports leaves through here as ``{"error", "message", "details"}``:
request validation (400 for unreadable JSON, 422 for invalid fields), domain errors (see
:data:`STATUS_BY_ERROR`), unknown routes (404) and anything unexpected (500, logged, no
traceback in the answer). Optional bearer auth (``DOCFLOW_API_TOKEN``) is checked here too.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from .errors import (
    BackendUnavailable,
    DocflowError,
    InvalidDocument,
    InvalidJob,
    JobConflict,
    JobNotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from .models import ErrorBody
from .settings import get_settings

MAX_BODY_BYTES = 256 * 1024
RETRY_AFTER_SECONDS = 2

STATUS_BY_ERROR: dict[type[DocflowError], int] = {
    InvalidJob: 400,
    Unauthorized: 401,
    JobNotFound: 404,
    JobConflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidDocument: 422,
    BackendUnavailable: 503,
}


def error_response(status: int, code: str, message: str, details: Any = None) -> Response[str]:
    headers: dict[str, str] = {}
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    body = ErrorBody(error=code, message=message, details=details).model_dump_json()
    return Response(status, "application/json", body, headers=headers)


def new_resolver(logger: Logger) -> APIGatewayHttpResolver:
    """An ``APIGatewayHttpResolver`` with validation, auth, body limits and the error mapping."""
    app = APIGatewayHttpResolver(enable_validation=True)

    def guard(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        event = app.current_event
        token = get_settings().api_token
        if token is not None:
            given = (event.headers or {}).get("authorization", "")
            expected = f"Bearer {token.get_secret_value()}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise Unauthorized("a valid 'Authorization: Bearer <token>' header is required")
        body = event.body or ""
        if len(body.encode()) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
        if body and event.http_method in ("POST", "PUT", "PATCH"):
            content_type = (event.headers or {}).get("content-type", "")
            if content_type.split(";")[0].strip().lower() != "application/json":
                raise UnsupportedMediaType("send the body as 'Content-Type: application/json'")
        return next_middleware(app)

    app.use(middlewares=[guard])

    def domain_error(err: DocflowError) -> Response[str]:
        status = next(s for kind, s in STATUS_BY_ERROR.items() if isinstance(err, kind))
        return error_response(status, err.code, err.message, err.details)

    def invalid_request(err: RequestValidationError) -> Response[str]:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body",
             "problem": e.get("msg", ""), "type": e.get("type", "")}
            for e in err.errors()
        ]  # fmt: skip
        if any(p["type"] == "json_invalid" for p in problems):
            return error_response(400, "invalid_json", "the request body is not valid JSON")
        fields = ", ".join(sorted({p["field"] for p in problems}))
        return error_response(
            422, "validation_error", f"the request has invalid fields: {fields}", problems
        )

    @app.not_found
    def no_route(_err: Exception) -> Response[str]:
        event = app.current_event
        return error_response(404, "not_found", f"no route for {event.http_method} {event.path}")

    def unexpected(err: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return error_response(500, "internal_error", "something went wrong; it has been logged")

    # Registered by call, not as decorators: powertools' decorator is untyped.
    app.exception_handler(DocflowError)(domain_error)
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(Exception)(unexpected)

    return app


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status, "application/json", json.dumps(body), headers=headers or {})
