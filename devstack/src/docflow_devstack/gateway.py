"""``docflow-gateway``: a local API Gateway (HTTP API, payload format 2.0) in front of the Lambdas.

Each HTTP request becomes the event API Gateway would send, is handed to the route's function,
and the function's answer becomes the HTTP response. Routes are those of the SAM template. A
function runs in a pool of execution environments, processes that each import its
``lambda_handler`` once (``make up``; :mod:`.environments`), or, with ``--function NAME=URL``, in
a Lambda container behind its runtime interface emulator (compose), one request at a time, as
the emulator serves them. ``GET /`` is the jobs page (:mod:`.jobs_page`), a browser view of the
same API.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import re
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from docflow_shared.lambda_context import LambdaContext
from docflow_shared.models import ErrorBody
from docflow_shared.observability import json_logging
from joserfc.jwk import KeySet, RSAKey

from . import dev_issuer
from .authorizer import Authorizer, Unauthorized, unauthorized_headers
from .environments import Environments, concurrency
from .functions import ROUTES, Handler, remote_function
from .jobs_page import page_response
from .openapi import openapi_document

log = logging.getLogger("docflow.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's own payload limit


class Function(Protocol):
    async def invoke(self, event: dict[str, Any]) -> dict[str, Any]: ...


class Container:
    """A function in a Lambda container (compose): its emulator serves one request at a time."""

    def __init__(self, function_name: str, handler: Handler) -> None:
        self.function_name, self.handler = function_name, handler
        self.thread = ThreadPoolExecutor(1, thread_name_prefix=function_name)

    async def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(self.function_name)
        return await asyncio.get_running_loop().run_in_executor(
            self.thread, self.handler, event, context
        )


@dataclass
class Route:
    method: str
    template: str
    function_name: str
    function: Function
    pattern: re.Pattern[str]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found and method == self.method else None


def load_routes(
    extra: list[tuple[str, str, str]] | None = None,
    function_urls: dict[str, str] | None = None,
    timeouts: dict[str, float] | None = None,
) -> list[Route]:
    """The routes; a function named in ``function_urls`` is invoked in its container, any other
    in its own environments (one per function, shared by its routes: one deployed function),
    each invocation ended after its handler's ``timeouts`` seconds, if it has one."""
    routes = []
    functions: dict[str, Function] = {}  # by handler: the routes of one function share it
    for method, template, target in [*ROUTES, *(extra or [])]:
        function_name = target.partition(":")[0].split(".")[0].replace("_", "-")
        if target not in functions:
            url = (function_urls or {}).get(function_name)
            functions[target] = (
                Container(function_name, remote_function(url))
                if url
                else Environments(
                    function_name, target, concurrency(), (timeouts or {}).get(target)
                )
            )
        pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template))
        routes.append(Route(method, template, function_name, functions[target], pattern))
    return routes


def to_event(
    request: web.Request, body: bytes, route: Route, params: dict[str, str]
) -> dict[str, Any]:
    """The API Gateway HTTP API v2 event for ``request``."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    route_key = f"{route.method} {route.template}"
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string,
        "cookies": [f"{k}={v}" for k, v in request.cookies.items()] or None,
        "headers": headers,
        "queryStringParameters": dict(request.query) or None,
        "pathParameters": params or None,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": "local",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "sourceIp": request.remote or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


def to_response(result: dict[str, Any]) -> web.Response:
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = web.Response(status=int(result.get("statusCode", 200)), body=data)
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


def error(status: int, code: str, message: str) -> web.Response:
    body = ErrorBody(error=code, message=message).model_dump_json()
    return web.Response(status=status, body=body, content_type="application/json")


@dataclass(frozen=True)
class JwtAuth:
    """``DOCFLOW_AUTH=jwt``: the authorizer every route's requests pass, and the dev issuer's
    key when the gateway serves that issuer itself (no ``DOCFLOW_JWT_ISSUER`` given)."""

    authorizer: Authorizer
    issuer_key: RSAKey | None = None


def jwt_auth(gateway_url: str) -> JwtAuth | None:
    if os.environ.get("DOCFLOW_AUTH", "token") != "jwt":
        return None  # the shared token, if DOCFLOW_API_TOKEN is set, is the functions' to check
    audience = os.environ.get("DOCFLOW_JWT_AUDIENCE", dev_issuer.AUDIENCE)
    issuer = os.environ.get("DOCFLOW_JWT_ISSUER")
    if issuer:
        return JwtAuth(Authorizer(issuer, audience, discovered_keys(issuer)))
    key = dev_issuer.signing_key(Path(os.environ.get("DOCFLOW_STATE_DIR", ".docflow")))
    public = KeySet([RSAKey.import_key(key.as_dict(private=False))])
    return JwtAuth(Authorizer(dev_issuer.issuer_url(gateway_url), audience, public), key)


def discovered_keys(issuer: str) -> KeySet:
    """The issuer's signing keys, found as API Gateway finds them: by OIDC discovery."""
    discovery = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    with urllib.request.urlopen(discovery, timeout=10) as answer:  # noqa: S310 - the issuer
        jwks_uri = json.loads(answer.read())["jwks_uri"]
    with urllib.request.urlopen(jwks_uri, timeout=10) as answer:  # noqa: S310
        return KeySet.import_key_set(json.loads(answer.read()))


def make_app(routes: list[Route], auth: JwtAuth | None = None) -> web.Application:
    openapi = openapi_document()

    environments = [f for f in {id(r.function): r.function for r in routes}.values()
                    if isinstance(f, Environments)]  # fmt: skip

    async def dispatch(request: web.Request) -> web.Response:
        if request.path == "/health":
            # Healthy once each function can answer at once (its first environment has run its
            # init): `make up` and the tests wait for this, so no first request pays an init.
            if all(e.provisioned for e in environments):
                return web.Response(status=200, text="ok")
            return web.Response(status=503, text="starting the functions' environments")
        if request.path == "/openapi.json" and request.method == "GET":
            return web.json_response(openapi)
        if request.method == "GET" and (page := page_response(request.path)) is not None:
            return page
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return error(413, "payload_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        for route in routes:
            params = route.match(request.method, request.path)
            if params is None:
                continue
            event = to_event(request, body, route, params)
            if auth is not None:
                try:
                    identity = auth.authorizer.authorize(request.headers.get("Authorization"))
                except Unauthorized as why:  # API Gateway's answer; no function sees the request
                    return web.json_response({"message": "Unauthorized"}, status=401,
                                             headers=unauthorized_headers(str(why)))  # fmt: skip
                event["requestContext"]["authorizer"] = {"jwt": identity}
            started = time.perf_counter()
            try:
                result = await route.function.invoke(event)
            except Exception:
                log.exception("%s raised", route.function_name)
                return error(502, "bad_gateway", "the function failed; see its log")
            log.debug("%s %s -> %s in %.1f ms", request.method, request.path,
                      result.get("statusCode"), (time.perf_counter() - started) * 1000)  # fmt: skip
            return to_response(result)
        allowed = [r.method for r in routes if r.pattern.fullmatch(request.path)]
        if allowed:
            return error(405, "method_not_allowed", f"use {', '.join(allowed)} on {request.path}")
        return error(404, "not_found", f"no route for {request.method} {request.path}")

    async def provision(_app: web.Application) -> None:
        for function in environments:
            task = asyncio.create_task(function.provision())
            provisioning.add(task)
            task.add_done_callback(reported)

    def reported(task: asyncio.Task[None]) -> None:
        """A function whose first environment failed its init stays unready (/health 503), and
        says why in the log; its next request starts another environment."""
        if not task.cancelled() and (failure := task.exception()) is not None:
            log.error("a function failed its init: %s", failure)

    async def stop(_app: web.Application) -> None:
        await asyncio.gather(*(function.stop() for function in environments))

    provisioning: set[asyncio.Task[None]] = set()  # kept: the loop holds only weak references

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.on_startup.append(provision)
    app.on_cleanup.append(stop)
    if auth is not None and auth.issuer_key is not None:
        dev_issuer.routes(app, auth.issuer_key, auth.authorizer.issuer)
    # [\s\S]: a path with an encoded newline is routed too (".*" stops at it).
    app.router.add_route("*", r"/{tail:[\s\S]*}", dispatch)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-gateway", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument(
        "--route",
        nargs=3,
        action="append",
        default=[],
        metavar=("METHOD", "PATH", "MODULE:HANDLER"),
        help="serve one more function, e.g. POST /ping my_pkg.handler:lambda_handler",
    )
    parser.add_argument(
        "--function",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="invoke function NAME (e.g. docflow-trigger) in the Lambda container at URL",
    )
    parser.add_argument(
        "--timeout",
        action="append",
        default=[],
        metavar="MODULE:HANDLER=SECONDS",
        help="end that function's invocations after SECONDS, as Lambda does (default: none)",
    )
    args = parser.parse_args(argv)
    json_logging("docflow-gateway")
    function_urls = dict(item.split("=", 1) for item in args.function)
    timeouts = {target: float(seconds)
                for target, seconds in (item.rsplit("=", 1) for item in args.timeout)}  # fmt: skip
    routes = load_routes([tuple(route) for route in args.route], function_urls, timeouts)
    log.info("local API gateway on http://%s:%s: %s", args.host, args.port,
             ", ".join(f"{r.method} {r.template}" for r in routes))  # fmt: skip
    auth = jwt_auth(f"http://{args.host}:{args.port}")
    if auth is not None:
        log.info("JWT authorizer: issuer %s, audience %s", auth.authorizer.issuer,
                 auth.authorizer.audience)  # fmt: skip
    app = make_app(routes, auth)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
