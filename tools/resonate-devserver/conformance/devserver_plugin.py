"""pytest plugin (-p devserver_plugin): run resonate-sdk-py's suite against the docflow dev server.

DEVSERVER_MODE=all (default): LocalNetwork, as the tests import it and as Resonate() falls back
  to it, becomes DevServerNetwork, an HttpNetwork (POST / + SSE /poll) to a dev server.
DEVSERVER_MODE=envurl: only Resonate()'s own RESONATE_URL lookup is pointed at the dev server.
One fresh in-memory dev server per test (tests reuse fixed ids), started the first time the test
builds a network, killed after its teardown. DEVSERVER_NORMALIZE=1 (supplementary run): rewrite
head.version 2025-01-15 -> 2026-04-01 and resonate:target "any" -> "poll://any@default".
"""

import os
import socket
import subprocess
import time
import urllib.request

import pytest
import resonate.network as _rn
import resonate.resonate as _rr
from resonate.network import HttpNetwork

DEV_BIN = os.environ.get("DEVSERVER_BIN", "docflow-resonate")
LOG_DIR = os.environ.get("DEVSERVER_LOGS", "devserver-logs")
_server: dict = {}  # proc, url, log
_test = ["(collection)"]
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _url() -> str:
    if "url" in _server:
        return _server["url"]
    os.makedirs(LOG_DIR, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in _test[0])[-150:]
    log = open(os.path.join(LOG_DIR, name + ".log"), "wb")  # noqa: SIM115
    cmd = [DEV_BIN, "dev", "--server-port", str(port), "--observability-metrics-port", "0",
           "--level", "debug"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 20
    while True:
        try:
            _opener.open(url + "/health", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"dev server did not start on {url}") from None
            time.sleep(0.02)
    _server.update(proc=proc, url=url, log=log)
    return url


def _stop() -> None:
    proc, log = _server.pop("proc", None), _server.pop("log", None)
    _server.pop("url", None)
    if proc is not None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class DevServerNetwork(HttpNetwork):
    """LocalNetwork's constructor and defaults (pid and group "default"), over HTTP."""

    def __init__(self, pid: str | None = None, group: str | None = None) -> None:
        super().__init__(_url(), pid=pid if pid is not None else "default", group=group)

    async def send(self, req: str) -> str:
        if os.environ.get("DEVSERVER_NORMALIZE") == "1":
            req = req.replace('"version":"2025-01-15"', '"version":"2026-04-01"')
            req = req.replace('"resonate:target":"any"', '"resonate:target":"poll://any@default"')
        return await super().send(req)


if os.environ.get("DEVSERVER_MODE", "all") == "all":
    _rn.LocalNetwork = DevServerNetwork  # `from resonate.network import LocalNetwork` in tests
    _rr.LocalNetwork = DevServerNetwork  # Resonate()'s fallback (no url/network/RESONATE_URL)
else:  # envurl: Resonate() behaves as if RESONATE_URL named this test's dev server
    _rr._resolve_env_url = _url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    _test[0] = item.nodeid
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    _stop()  # after every fixture of the test has been finalized


def pytest_sessionfinish(session, exitstatus):
    _stop()
