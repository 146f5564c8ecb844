"""The gateway's compose mode: a route's function runs in a Lambda container and is invoked over
the runtime interface emulator's HTTP API. The emulator is a Go binary that no registry here
ships, so a stand-in speaks its invoke API and runs the real status handler."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp import web
from docflow_devstack.functions import INVOKE_PATH, ROUTES
from docflow_devstack.gateway import load_routes, make_app
from docflow_shared.lambda_context import LambdaContext
from docflow_status.handlers.http import lambda_handler as status_handler
from docflow_testing.processes import free_port

pytestmark = pytest.mark.integration


class EmulatorStandIn(BaseHTTPRequestHandler):
    events: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        assert self.path == INVOKE_PATH
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.events.append(event)
        if event["rawPath"] == "/status/crash":
            answer: dict[str, Any] = {"errorMessage": "boom", "errorType": "RuntimeError"}
        else:
            answer = status_handler(event, LambdaContext("docflow-status"))
        body = json.dumps(answer).encode()
        self.send_response(200)  # the emulator answers 200 for function errors too
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def emulator_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), EmulatorStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def get_through_gateway(
    emulator_url: str, paths: list[str], headers: dict[str, str] | None = None
) -> list[tuple[int, Any]]:
    routes = load_routes(function_urls={"docflow-status": emulator_url})
    runner = web.AppRunner(make_app(routes))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    answers = []
    try:
        async with aiohttp.ClientSession() as session:
            for path in paths:
                async with session.get(f"http://127.0.0.1:{port}{path}", headers=headers) as resp:
                    answers.append((resp.status, await resp.json()))
    finally:
        await runner.cleanup()
    return answers


def test_routes_reach_a_function_in_its_container(emulator_url: str) -> None:
    EmulatorStandIn.events.clear()
    (invalid, crashed, openapi) = asyncio.run(
        get_through_gateway(emulator_url, ["/status/bad%20id", "/status/crash", "/openapi.json"])
    )
    # The handler ran behind the emulator and its answer came back as the HTTP response.
    assert invalid[0] == 400
    assert "jobId" in invalid[1]["message"]
    # A function error is a 502 with a JSON body, never a hang or a traceback.
    assert crashed == (502, {"error": "bad_gateway", "message": "the function failed; see its log",
                             "details": None})  # fmt: skip
    sent = EmulatorStandIn.events[0]
    assert sent["version"] == "2.0"
    assert sent["routeKey"] == "GET /status/{jobId}"
    assert sent["pathParameters"] == {"jobId": "bad id"}
    # The gateway also serves the API's OpenAPI document, generated from the same routes.
    assert openapi[0] == 200
    assert set(openapi[1]["paths"]) == {template for _, template, _ in ROUTES}


def test_cookies_reach_the_function_as_api_gateway_passes_them(emulator_url: str) -> None:
    EmulatorStandIn.events.clear()

    [(status, _)] = asyncio.run(
        get_through_gateway(emulator_url, ["/status/bad%20id"], {"Cookie": "a=1; theme=dark"})
    )

    assert status == 400  # the handler's answer, not a gateway error
    assert EmulatorStandIn.events[0]["cookies"] == ["a=1", "theme=dark"]
