"""The API Gateway side of both Lambdas: one resolver setup and the one error → HTTP mapping.

Every error a front door reports leaves through here as ``{"error", "message", "details"}``:
request validation (400 for unreadable JSON, 422 for invalid fields), domain errors (see
:data:`STATUS_BY_ERROR`), unknown routes (404) and anything unexpected (500, logged, no
traceback in the answer). Optional bearer auth (``DOCFLOW_API_TOKEN``) is checked here too.
"""

from __future__ import annotations

import base64
import hmac
import re
import uuid
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, SecretStr

from .errors import (
    BackendRejected,
    BackendUnavailable,
    DocflowError,
    Forbidden,
    InvalidDocument,
    InvalidFields,
    InvalidJob,
    JobConflict,
    JobNotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    UnreadableJson,
    UnsupportedMediaType,
)
from .models import ErrorBody

MAX_BODY_BYTES = 256 * 1024
CORRELATION_HEADER = "X-Correlation-Id"
CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
RETRY_AFTER_SECONDS = 2
JSON_ONLY = "send the body as JSON, with 'Content-Type: application/json'"

STATUS_BY_ERROR: dict[type[DocflowError], int] = {
    InvalidJob: 400,
    Unauthorized: 401,
    Forbidden: 403,
    JobNotFound: 404,
    JobConflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidDocument: 422,
    InvalidFields: 422,
    TooManyRequests: 429,
    BackendRejected: 502,
    BackendUnavailable: 503,
}


# What each error status means to a client, for the OpenAPI document.
ERROR_MEANINGS = {
    400: "the request is malformed: a body that is not JSON, or an invalid jobId",
    401: "DOCFLOW_API_TOKEN is set and the bearer token is missing or wrong",
    403: "the verified caller may not do this (start a job as another requester, decide "
    "without the reviewer role, or on a job of its own)",
    404: "no such job, or no such route",
    409: "the job id was already used with a different request",
    413: "the body is larger than 256 KB",
    415: "the body is not sent as application/json",
    422: "the request has invalid fields (details lists them)",
    429: "the requester has too many jobs in flight, or started too many too fast; retry after "
    "Retry-After seconds",
    502: "the workflow service refused the request",
    503: "the workflow service is not answering; retry after Retry-After seconds",
}


def openapi_responses(
    status: int, description: str, model: type[BaseModel] | str, *error_statuses: int
) -> dict[int, OpenAPIResponse]:
    """A route's documented answers: its success (a model as JSON, or binary content of a media
    type, e.g. ``"image/jpeg"``) and the errors it can give (as ErrorBody)."""
    content: dict[str, Any] = (
        {model: {"schema": {"type": "string", "format": "binary"}}}
        if isinstance(model, str)
        else {"application/json": {"model": model}}
    )
    responses: dict[int, OpenAPIResponse] = {
        status: {"description": description, "content": content}
    }
    for error in error_statuses:
        responses[error] = {
            "description": ERROR_MEANINGS[error],
            "content": {"application/json": {"model": ErrorBody}},
        }
    return responses


def error_response(
    status: int, code: str, message: str, details: Any = None, retry_after: int | None = None
) -> Response[str]:
    headers: dict[str, str] = {}
    if status == 503 or retry_after is not None:
        headers["Retry-After"] = str(retry_after or RETRY_AFTER_SECONDS)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    body = ErrorBody(error=code, message=message, details=details).model_dump_json()
    return Response(status, "application/json", body, headers=headers)


def domain_response(err: DocflowError) -> Response[str]:
    """The one mapping from a domain error to its HTTP answer."""
    status = next(s for kind, s in STATUS_BY_ERROR.items() if isinstance(err, kind))
    retry_after = err.retry_after_seconds if isinstance(err, TooManyRequests) else None
    return error_response(status, err.code, err.message, err.details, retry_after)


def check_request(event: dict[str, Any], token: SecretStr | None) -> None:
    """Refuse, before routing and validation, what no route may see (auth first: ``token``,
    when set, is the bearer token every request must carry)."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if token is not None:
        expected = f"Bearer {token.get_secret_value()}".encode()
        if not hmac.compare_digest(headers.get("authorization", "").encode(), expected):
            raise Unauthorized("a valid 'Authorization: Bearer <token>' header is required")
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if body and content_type != "application/json":
        raise UnsupportedMediaType(JSON_ONLY)
    if body and event.get("isBase64Encoded"):
        # API Gateway passes a body that is not UTF-8 text in base64: JSON it cannot be.
        try:
            base64.b64decode(body, validate=True).decode("utf-8")
        except ValueError as err:  # bad base64 (binascii.Error) or not UTF-8
            raise UnreadableJson("the request body is not valid JSON (not UTF-8 text)") from err


def _proxy(response: Response[str]) -> dict[str, Any]:
    """A powertools response as the API Gateway HTTP API (v2) proxy answer."""
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": "application/json", **response.headers},
        "body": response.body,
        "isBase64Encoded": False,
    }


def correlation_id(event: dict[str, Any]) -> str:
    """The id that follows a request through logs, the workflow and its webhook: the caller's
    ``X-Correlation-Id`` when it is a plain id, else API Gateway's request id."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    sent = headers.get(CORRELATION_HEADER.lower(), "")
    if CORRELATION_ID.fullmatch(sent):
        return str(sent)
    request_id = (event.get("requestContext") or {}).get("requestId")
    return str(request_id) if request_id else str(uuid.uuid4())


def resolve(
    app: APIGatewayHttpResolver,
    event: dict[str, Any],
    context: Any,
    logger: Logger,
    api_token: SecretStr | None,
) -> dict[str, Any]:
    """Answer one API Gateway event: refusals first, then the routes. The answer carries the
    request's correlation id, and so does every log line written while answering it."""
    logger.set_correlation_id(correlation_id(event))
    try:
        check_request(event, api_token)
        answer = app.resolve(event, context)
    except DocflowError as err:
        answer = _proxy(domain_response(err))
    answer.setdefault("headers", {})[CORRELATION_HEADER] = logger.get_correlation_id()
    return answer


def new_resolver(logger: Logger) -> APIGatewayHttpResolver:
    """An ``APIGatewayHttpResolver`` with validation and the error mapping."""
    app = APIGatewayHttpResolver(enable_validation=True)

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

    def unsupported_media_type(_err: RequestUnsupportedContentType) -> Response[str]:
        return domain_response(UnsupportedMediaType(JSON_ONLY))

    def unexpected(err: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return error_response(500, "internal_error", "something went wrong; it has been logged")

    # Registered by call, not as decorators: powertools' decorator is untyped.
    app.exception_handler(DocflowError)(domain_response)
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(RequestUnsupportedContentType)(unsupported_media_type)
    app.exception_handler(Exception)(unexpected)

    return app
