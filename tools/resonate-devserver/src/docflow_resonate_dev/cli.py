"""``docflow-resonate``: the command line of the real ``resonate`` server, for the flags we use.

``serve`` keeps its store in ``--storage-sqlite-path`` (default ``resonate.db``); ``dev`` is the
same server with a throwaway in-memory store unless a path is given. Every flag also reads the
real server's environment variable (``RESONATE_SERVER__PORT``, ``RESONATE_STORAGE__SQLITE__PATH``,
...). One difference: the default bind address is loopback, not every interface.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

from .logs import json_logging
from .server import ServerConfig, serve

LEVELS = ("trace", "debug", "info", "warn", "error")
LEVELS_BY_NAME = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
                  "warn": logging.WARNING, "error": logging.ERROR}  # fmt: skip


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def parse_args(argv: list[str] | None = None) -> tuple[str, ServerConfig, str]:
    parser = argparse.ArgumentParser(prog="docflow-resonate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_store = _env("RESONATE_STORAGE__SQLITE__PATH", "resonate.db")
    for name in ("serve", "dev"):
        sub = commands.add_parser(name, help=f"run the server ({name} mode)")
        sub.add_argument("--level", default=_env("RESONATE_LEVEL", "info"), choices=LEVELS)
        sub.add_argument("--server-host", default=_env("RESONATE_SERVER__HOST", "127.0.0.1"))
        sub.add_argument("--server-bind", default=_env("RESONATE_SERVER__BIND", ""))
        sub.add_argument(
            "--server-port", type=int, default=int(_env("RESONATE_SERVER__PORT", "8001"))
        )
        sub.add_argument("--server-url", default=_env("RESONATE_SERVER__URL", ""))
        sub.add_argument(
            "--storage-sqlite-path",
            default=None if name == "dev" else serve_store,
        )
        sub.add_argument(
            "--tasks-retry-timeout",
            type=int,
            default=int(_env("RESONATE_TASKS__RETRY_TIMEOUT", "30000")),
            help="ms before a pending task's execute message is sent again",
        )
        sub.add_argument(
            "--timeouts-poll-interval",
            type=int,
            default=int(_env("RESONATE_TIMEOUTS__POLL_INTERVAL", "1000")),
            help="ms between sweeps for due promise timeouts and lapsed leases",
        )
    args = parser.parse_args(argv)
    path = args.storage_sqlite_path or ":memory:"
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    config = ServerConfig(
        host=args.server_bind or args.server_host,
        port=args.server_port,
        url=args.server_url,
        sqlite_path=path,
        retry_timeout_ms=args.tasks_retry_timeout,
        poll_interval_ms=args.timeouts_poll_interval,
    )
    return args.command, config, args.level


async def _run(config: ServerConfig) -> None:
    task = asyncio.create_task(serve(config))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except RuntimeError as err:  # e.g. a store this version cannot open: say so, no traceback
        raise SystemExit(f"docflow-resonate: {err}") from None
    except asyncio.CancelledError:
        logging.getLogger("docflow.resonate").info("Resonate dev server stopped")


def main(argv: list[str] | None = None) -> None:
    _command, config, level = parse_args(argv)
    json_logging("docflow-resonate", LEVELS_BY_NAME[level])
    asyncio.run(_run(config))


if __name__ == "__main__":
    main()
