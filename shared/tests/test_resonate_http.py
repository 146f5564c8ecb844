"""The front doors' Resonate client (``docflow_shared.resonate_http``): the SDK's protocol, byte
for byte, within a budget, on one connection that stays warm."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import resonate_base
from docflow_shared.errors import BackendUnavailable, JobNotFound
from docflow_shared.resonate_http import PROTOCOL_VERSION, ResonateHttp, decode_value, rejection
from docflow_testing.processes import free_port, resonate_server
from docflow_testing.protocol import call
from docflow_testing.proxy import CountingProxy
from resonate.codec import Codec, NoopEncryptor
from resonate.resonate import Resonate
from resonate.types import Value

pytestmark = pytest.mark.integration

BUDGET = 0.5


class Recorder(ThreadingHTTPServer):
    """Answers every request with a promise record, and keeps each request body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                recorder.bodies.append(body)
                data = body["data"]
                promise = {"id": data.get("id", "x"), "state": "pending",
                           "param": data.get("param"), "tags": data.get("tags", {}),
                           "timeoutAt": data.get("timeoutAt", 1)}  # fmt: skip
                head = {
                    "corrId": body["head"]["corrId"],
                    "status": 200,
                    "version": body["head"]["version"],
                }
                data = {"promise": promise, "promises": []}
                answer = json.dumps({"kind": body["kind"], "head": head, "data": data}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_protocol_version_is_the_sdks() -> None:
    assert resonate_base.PROTOCOL_VERSION == PROTOCOL_VERSION


JOB = {"jobId": "inv-7", "documentUrl": "https://example.com/facture-été.pdf",
       "requesterId": "zoë", "type": "auto", "requireApproval": False}  # fmt: skip


@pytest.mark.parametrize(
    ("ours", "sdks"),
    [
        (
            lambda c: c.create("doc/inv-7", 123, {"args": [JOB], "kwargs": {}}, {"a": "b"}),
            lambda c: c.promises.create("doc/inv-7", 123, Value(data={"args": [JOB],
                                                                     "kwargs": {}}), {"a": "b"}),
        ),
        (
            lambda c: c.create("doc/inv-7/cancel", 5, None, {}),
            lambda c: c.promises.create("doc/inv-7/cancel", 5, Value(data=None), {}),
        ),
        (
            lambda c: c.settle("doc/inv-7:4", "resolved", {"approved": True, "reviewer": "bø"}),
            lambda c: c.promises.resolve("doc/inv-7:4", Value(data={"approved": True,
                                                                  "reviewer": "bø"})),
        ),
        (lambda c: c.get("doc/inv-7"), lambda c: c.promises.get("doc/inv-7")),
        (
            lambda c: c.search("pending", {"docflow:kind": "job"}, 100, "cur"),
            lambda c: c.promises.search("pending", {"docflow:kind": "job"}, 100, "cur"),
        ),
    ],
    ids=["create", "create-empty", "resolve", "get", "search"],
)  # fmt: skip
def test_each_request_is_the_one_the_sdk_sends(recorder: Recorder, ours: Any, sdks: Any) -> None:
    """Same kind, same data (values: the same base64 bytes); only the correlation id differs."""

    async def by_sdk() -> None:
        client = Resonate(url=recorder.url, sources=[], subscription_refresh_secs=0)
        try:
            await sdks(client)
        finally:
            await client.stop()

    asyncio.run(by_sdk())
    ours(ResonateHttp(recorder.url, 5))

    sdk_body, our_body = recorder.bodies
    for body in (sdk_body, our_body):
        body["head"].pop("corrId")
    assert our_body == sdk_body


def test_a_rejection_reads_back_as_the_sdks_does() -> None:
    error = ValueError("no such page")
    sdk_value = Codec(NoopEncryptor()).encode(error)

    assert decode_value({"data": sdk_value.data})["message"] == rejection(error)["message"]
    assert rejection(error)["__type"] == "error"


def test_a_closed_port_fails_within_the_budget() -> None:
    client = ResonateHttp(f"http://127.0.0.1:{free_port()}", BUDGET)
    started = time.monotonic()

    with pytest.raises(BackendUnavailable, match="did not answer"):
        client.get("doc/x")

    assert time.monotonic() - started < BUDGET + 0.3


def test_a_server_that_accepts_but_never_answers_fails_within_the_budget() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = ResonateHttp(f"http://127.0.0.1:{silent.getsockname()[1]}", BUDGET)
        started = time.monotonic()

        with pytest.raises(BackendUnavailable):
            client.get("doc/x")

        assert time.monotonic() - started < BUDGET + 0.3


def test_an_operations_requests_share_one_budget() -> None:
    client = ResonateHttp(f"http://127.0.0.1:{free_port()}", BUDGET)
    started = time.monotonic()

    with client.operation():
        with pytest.raises(BackendUnavailable):
            client.get("doc/x")
        with pytest.raises(BackendUnavailable):
            client.get("doc/y")

    assert time.monotonic() - started < BUDGET + 0.3


def test_a_promise_refused_while_resonate_was_down_is_not_created_once_it_is_back(
    tmp_path: Path,
) -> None:
    port = free_port()
    with pytest.raises(BackendUnavailable):
        ResonateHttp(f"http://127.0.0.1:{port}", BUDGET).create("doc/late", 2**42, {}, {})
    server, url = resonate_server(str(tmp_path / "r.db"), tmp_path / "server.log", port)
    try:
        time.sleep(2 * BUDGET)
        status, _ = call(url, "promise.get", id="doc/late")
    finally:
        server.kill9()

    assert status == 404


def test_the_servers_answers_come_back_as_records_and_errors(resonate_url: str) -> None:
    client = ResonateHttp(resonate_url, 5)
    created = client.create("doc/rec-1", 2**42, {"args": [1]}, {"docflow:kind": "job"})
    again = client.create("doc/rec-1", 2**42, {"args": [2]}, {})
    settled = client.settle("doc/rec-1", "rejected", rejection(ValueError("bad")))
    found = client.search("rejected", {"docflow:kind": "job"}, 10, None)

    assert (created.state, created.param, created.tags["docflow:kind"]) == (
        "pending", {"args": [1]}, "job")  # fmt: skip
    assert again.param == {"args": [1]}, "creating is idempotent: the first one stays"
    assert (settled.state, settled.value["message"]) == ("rejected", "bad")
    assert settled.settled_at is not None
    assert "doc/rec-1" in [p.id for p in found.promises]
    with pytest.raises(JobNotFound):
        client.get("doc/none")


def test_a_connection_closed_while_idle_is_replaced_at_once(resonate_url: str) -> None:
    proxy = CountingProxy(int(resonate_url.rsplit(":", 1)[1]))
    client = ResonateHttp(proxy.url, 5)
    client.create("doc/stale", 2**42, None, {})
    proxy.drop_all()
    time.sleep(0.2)

    started = time.monotonic()
    record = client.get("doc/stale")

    assert record.id == "doc/stale"
    assert time.monotonic() - started < 0.05 * 4, "sent again at once, not after a backoff"
    assert proxy.accepted == 2
