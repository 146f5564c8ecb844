"""``docflow-stack up|down|status``: the local stack in the background, like ``compose up -d``.

Each process has a pid file ``.docflow/run/<name>.pid`` and a log ``.docflow/logs/<name>.log``.
``up`` starts only what is not running (so after a crash it brings the missing piece back),
waits until each is healthy and prints the URLs; ``down`` stops exactly what ``up`` started.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

STATE_DIR = Path(".docflow")
RUN_DIR = STATE_DIR / "run"
LOG_DIR = STATE_DIR / "logs"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    argv: list[str]
    health_path: str
    description: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def services() -> list[Service]:
    resonate_port = int(os.environ.get("RESONATE_SERVER__PORT", "8001"))
    return [
        Service(
            name="resonate",
            port=resonate_port,
            argv=[
                str(BIN / "docflow-resonate"),
                "serve",
                "--server-port",
                str(resonate_port),
                "--storage-sqlite-path",
                os.environ.get("RESONATE_STORAGE__SQLITE__PATH", str(STATE_DIR / "resonate.db")),
            ],
            health_path="/ready",
            description="Resonate dev server",
        ),
    ]


def pid_file(name: str) -> Path:
    return RUN_DIR / f"{name}.pid"


def running_pid(name: str) -> int | None:
    """The pid recorded for ``name`` if that process is still alive."""
    try:
        pid = int(pid_file(name).read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def healthy(service: Service) -> bool:
    try:
        with urllib.request.urlopen(service.url + service.health_path, timeout=1) as resp:  # noqa: S310 - loopback
            return bool(resp.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def start(service: Service) -> None:
    if running_pid(service.name) is not None:
        print(f"  {service.name:<10} already running")
        return
    if port_in_use(service.port):
        msg = (
            f"port {service.port} (needed by {service.description}) is already in use by another "
            f"process: stop it, or choose another port"
        )
        raise SystemExit(msg)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / f"{service.name}.log").open("ab") as log:
        proc = subprocess.Popen(
            service.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    pid_file(service.name).write_text(str(proc.pid))
    print(f"  {service.name:<10} started (pid {proc.pid})")


def wait_healthy(service: Service, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy(service):
            return
        if running_pid(service.name) is None:
            break
        time.sleep(0.1)
    log = LOG_DIR / f"{service.name}.log"
    tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
    msg = f"{service.description} did not become healthy; last lines of {log}:\n{tail}"
    raise SystemExit(msg)


def up() -> None:
    print("docflow local stack:")
    stack = services()
    for service in stack:
        start(service)
        wait_healthy(service)
    print()
    for service in stack:
        print(f"  {service.description:<22} {service.url}")
    print(f"\nlogs: {LOG_DIR}/<process>.log   stop: make down")


def down() -> None:
    for service in reversed(services()):
        pid = running_pid(service.name)
        if pid is None:
            pid_file(service.name).unlink(missing_ok=True)
            continue
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while running_pid(service.name) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if running_pid(service.name) is not None:
            os.killpg(pid, signal.SIGKILL)
        pid_file(service.name).unlink(missing_ok=True)
        print(f"  {service.name:<10} stopped")


def status() -> None:
    for service in services():
        pid = running_pid(service.name)
        state = "down" if pid is None else ("healthy" if healthy(service) else "unhealthy")
        print(f"  {service.name:<10} {state:<10} {service.url}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    {"up": up, "down": down, "status": status}[args.command]()


if __name__ == "__main__":
    main()
