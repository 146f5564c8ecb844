"""HTTP push: a message for an ``http://`` address (a serverless function) is POSTed to it, as the
real server does (resonatehq/resonate v0.9.8, ``src/transport/transport_http_push.rs:136-176``,
``src/processing/processing_messages.rs:87-118``), without holding up any other delivery; a
failed push is sent again by the task's retry timer or lease expiry, never lost."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from docflow_testing.processes import free_port, resonate_server
from docflow_testing.protocol import FAR, call, sse_frames, unique, wait_for

pytestmark = pytest.mark.integration

RETRY_MS = 500
TOKEN = "push-token"


class Function(ThreadingHTTPServer):
    """A stand-in serverless function on loopback: records every push; answers each path with
    the status queued for it (200 once the queue is empty), after ``hang`` is set if asked."""

    def __init__(self, port: int = 0) -> None:
        self.pushes: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.answers: dict[str, list[int]] = {}
        self.hanging: set[str] = set()
        self.release = threading.Event()
        function = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                function.pushes.append((self.path, dict(self.headers), body))
                if self.path in function.hanging:
                    function.release.wait(60)
                queued = function.answers.get(self.path) or [200]
                self.send_response(queued.pop(0) if len(queued) > 1 else queued[0])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", port), Handler)
        self.daemon_threads = True
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for pushed, _headers, body in self.pushes if pushed == path]

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base: Path = tmp_path_factory.mktemp("push")
    server, url = resonate_server(
        str(base / "resonate.db"), base / "server.log", None,
        "--tasks-retry-timeout", str(RETRY_MS),
        "--transports-http-push-request-timeout", "2000",
        "--transports-http-push-auth-mode", "bearer",
        "--transports-http-push-auth-token", TOKEN,
    )  # fmt: skip
    yield url
    server.kill9()


@pytest.fixture
def function() -> Iterator[Function]:
    target = Function()
    yield target
    target.stop()


def pushes_to(function: Function, path: str, count: int, timeout: float = 10) -> list[Any]:
    deadline = time.monotonic() + timeout
    while len(function.bodies(path)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return function.bodies(path)


def test_an_execute_and_an_unblock_are_posted_as_json_with_the_bearer_token(
    server_url: str, function: Function
) -> None:
    task_id, path = unique("task"), "/fn"
    call(server_url, "promise.create", id=task_id, timeoutAt=FAR,
         tags={"resonate:target": function.url(path)})  # fmt: skip
    [execute] = pushes_to(function, path, 1)
    call(server_url, "promise.register_listener", awaited=task_id, address=function.url("/l"))
    call(server_url, "promise.settle", id=task_id, state="resolved")
    [unblock] = pushes_to(function, "/l", 1)

    assert execute == {"kind": "execute", "head": {"serverUrl": server_url},
                       "data": {"task": {"id": task_id, "version": 0}}}  # fmt: skip
    assert (unblock["kind"], unblock["head"]) == ("unblock", {})
    assert unblock["data"]["promise"]["id"] == task_id
    assert unblock["data"]["promise"]["state"] == "resolved"
    headers = function.pushes[0][1]
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("failure", ["5xx", "refused", "timeout"])
def test_a_failed_push_is_sent_again_by_the_tasks_retry_timer(
    server_url: str, function: Function, failure: str
) -> None:
    task_id, path = unique("task"), f"/{failure}"
    target = function.url(path)
    if failure == "5xx":
        function.answers[path] = [503, 200]
    elif failure == "timeout":  # the request timeout is 2 s; the retry timer then sends again
        function.hanging.add(path)
    else:
        port = free_port()  # nothing listens here until the function starts
        target = f"http://127.0.0.1:{port}{path}"

    call(server_url, "promise.create", id=task_id, timeoutAt=FAR,
         tags={"resonate:target": target})  # fmt: skip
    if failure == "refused":
        time.sleep(RETRY_MS / 1000)
        late = Function(port)
        try:
            pushed = pushes_to(late, path, 1)
        finally:
            late.stop()
    else:
        pushed = pushes_to(function, path, 2, timeout=15)
        function.release.set()

    executes = [body["data"]["task"] for body in pushed]
    assert executes[-1] == {"id": task_id, "version": 0}, executes
    assert len(executes) >= (1 if failure == "refused" else 2)


def test_a_lapsed_lease_sends_the_task_again_at_its_next_version(
    server_url: str, function: Function
) -> None:
    task_id, path = unique("task"), "/lease"
    call(server_url, "promise.create", id=task_id, timeoutAt=FAR,
         tags={"resonate:target": function.url(path)})  # fmt: skip
    pushes_to(function, path, 1)
    acquired = call(server_url, "task.acquire", id=task_id, version=0, pid="fn-1", ttl=300)
    assert acquired[0] == 200, acquired

    pushed = pushes_to(function, path, 2)  # the function died holding it: no heartbeat

    assert [body["data"]["task"]["version"] for body in pushed] == [0, 1]


def test_a_push_that_hangs_holds_up_neither_other_pushes_nor_pollers(
    server_url: str, function: Function
) -> None:
    group, frames = unique("grp"), []
    sse_frames(server_url, group, "w1", frames)
    function.hanging.add("/slow")
    call(server_url, "promise.create", id=unique("slow"), timeoutAt=FAR,
         tags={"resonate:target": function.url("/slow")})  # fmt: skip
    pushes_to(function, "/slow", 1)  # in flight, and it will not answer for seconds

    began = time.monotonic()
    call(server_url, "promise.create", id=unique("fast"), timeoutAt=FAR,
         tags={"resonate:target": function.url("/fast")})  # fmt: skip
    polled = unique("polled")
    call(server_url, "promise.create", id=polled, timeoutAt=FAR,
         tags={"resonate:target": f"poll://any@{group}"})  # fmt: skip

    assert pushes_to(function, "/fast", 1, timeout=1.5)
    assert wait_for(frames, 1)[0]["data"]["task"]["id"] == polled
    assert time.monotonic() - began < 1.5, "neither waited for the hanging push"
