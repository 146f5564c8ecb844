"""The local gateway runs each function as Lambda does: in execution environments, separate
processes that each initialise once and then serve one request at a time, as many side by side
as ``DOCFLOW_LAMBDA_CONCURRENCY`` allows."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from docflow_testing.processes import BIN, Process, free_port, http_ok, wait_until

pytestmark = pytest.mark.integration

CONCURRENCY = 3
TIMEOUT = 2  # the faulty function's, in seconds


class Barrier(ThreadingHTTPServer):
    """Holds each request until ``parties`` of them have arrived, then lets them all through."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)
        gate = self.barrier

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    gate.wait()
                    self.send_response(200)
                except threading.BrokenBarrierError:
                    self.send_response(504)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "gateway.log"
    process = Process(
        [str(BIN / "docflow-gateway"), "--port", str(port),
         "--route", "POST", "/barrier", "docflow_testing.barrier_function:lambda_handler",
         "--route", "POST", "/faulty", "docflow_testing.faulty_function:lambda_handler",
         "--timeout", f"docflow_testing.faulty_function:lambda_handler={TIMEOUT}"],
        log, env={"DOCFLOW_LAMBDA_CONCURRENCY": str(CONCURRENCY)},
    ).start()  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}/health"), 60, "the gateway")
        yield url, log
    finally:
        process.kill9()


def through(url: str, barrier: Barrier, requests: int) -> list[int]:
    """``requests`` POSTs at once; the process each was served by."""
    threading.Thread(target=barrier.serve_forever, daemon=True).start()
    try:
        with ThreadPoolExecutor(requests) as pool:
            answers = list(pool.map(
                lambda _: httpx.post(f"{url}/barrier", json={"barrier": barrier.url}, timeout=90),
                range(requests),
            ))  # fmt: skip
    finally:
        barrier.shutdown()
    assert [a.status_code for a in answers] == [200] * requests, [a.text for a in answers]
    return [int(a.json()["pid"]) for a in answers]


def test_concurrent_requests_run_side_by_side_each_in_its_own_environment(
    gateway: tuple[str, Path],
) -> None:
    url, log = gateway

    # Each request waits at the barrier until all have arrived: one thread serving them in turn
    # would never get past the first.
    pids = through(url, Barrier(CONCURRENCY), CONCURRENCY)
    again = through(url, Barrier(1), 1)

    assert len(set(pids)) == CONCURRENCY
    assert set(again) <= set(pids), "a warm environment serves the next request"
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    barrier_handler = "docflow_testing.barrier_function:lambda_handler"
    started = [r for r in records if r["message"] == "environment started"
               and r.get("handler") == barrier_handler]  # fmt: skip
    assert sorted(r["pid"] for r in started) == sorted(pids), "one init per environment"
    assert all(r["initDurationMs"] > 0 for r in started)


def test_no_more_environments_than_the_concurrency_allows(gateway: tuple[str, Path]) -> None:
    url, _ = gateway

    # One more request than there may be environments: the last waits for a free one, so the
    # barrier only ever sees CONCURRENCY at once, and lets them through in a group of that size.
    barrier = Barrier(CONCURRENCY)
    threading.Thread(target=barrier.serve_forever, daemon=True).start()
    try:
        with ThreadPoolExecutor(CONCURRENCY + 1) as pool:
            first = [pool.submit(httpx.post, f"{url}/barrier", json={"barrier": barrier.url},
                                 timeout=90) for _ in range(CONCURRENCY + 1)]  # fmt: skip
            wait_until(lambda: sum(f.done() for f in first) == CONCURRENCY, 60, "a group")
            wait_until(lambda: barrier.barrier.n_waiting == 1, 30, "the extra request")
            for _ in range(CONCURRENCY - 1):  # let it through with stand-ins
                threading.Thread(target=httpx.get, args=(barrier.url,), daemon=True).start()
            answers = [f.result() for f in first]
    finally:
        barrier.shutdown()

    pids = {int(a.json()["pid"]) for a in answers if a.status_code == 200}
    assert [a.status_code for a in answers] == [200] * (CONCURRENCY + 1)
    assert len(pids) == CONCURRENCY


def test_a_failing_function_is_a_502_and_the_next_request_is_served(
    gateway: tuple[str, Path],
) -> None:
    url, _ = gateway

    def call(body: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{url}/faulty", json=body, timeout=60)

    served_by = call({}).json()["pid"]
    for how in ("raise", "unserialisable", "exit"):
        answer = call({"fail": how})
        assert answer.status_code == 502, (how, answer.text)
        assert answer.json()["error"] == "bad_gateway"
        after = call({})
        assert after.status_code == 200, (how, after.text)
        if how == "exit":  # its environment is gone: a new one serves the next request
            assert after.json()["pid"] != served_by
        else:  # the environment survives its function's error, as Lambda's does
            assert after.json()["pid"] == served_by
        served_by = after.json()["pid"]


def test_an_invocation_past_its_timeout_ends_with_its_environment_as_in_lambda(
    gateway: tuple[str, Path],
) -> None:
    url, log = gateway
    served_by = httpx.post(f"{url}/faulty", json={}, timeout=60).json()["pid"]

    hung = httpx.post(f"{url}/faulty", json={"fail": "hang", "seconds": 60}, timeout=60)
    after = httpx.post(f"{url}/faulty", json={}, timeout=60)

    assert hung.status_code == 502, hung.text
    assert f"task timed out after {TIMEOUT} seconds" in log.read_text()
    assert after.status_code == 200
    assert after.json()["pid"] != served_by, "the environment that ran past it is gone"
    wait_until(lambda: not pid_alive(served_by), 10, "the timed-out environment to exit")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_stopped_gateway_stops_its_environments_at_once(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "gateway.log"
    process = Process(
        [str(BIN / "docflow-gateway"), "--port", str(port),
         "--route", "POST", "/barrier", "docflow_testing.barrier_function:lambda_handler"],
        log, env={"DOCFLOW_LAMBDA_CONCURRENCY": "1"},
    ).start()  # fmt: skip
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/health"), 60, "the gateway")
        records = [json.loads(line) for line in log.read_text().splitlines() if line[:1] == "{"]
        environments = [r["pid"] for r in records if r["message"] == "environment started"]

        stopped = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)  # as docflow-stack down stops it
        assert process.popen is not None
        process.popen.wait(timeout=30)
        took = time.monotonic() - stopped
    finally:
        process.kill9()

    # Each environment reads the end of its channel and exits: no waiting out a timeout.
    assert took < 5, f"the gateway took {took:.1f} s to stop"
    assert environments
    for pid in environments:
        wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists(), 10, f"environment {pid}")
