"""``docflow-resonate``: the command line of the real ``resonate`` server, for the flags we use.

``serve`` keeps its store in ``--storage-sqlite-path`` (default ``resonate.db``); ``dev`` is the
same server with a throwaway in-memory store unless a path is given. Every flag also reads the
real server's environment variable (``RESONATE_SERVER__PORT``, ``RESONATE_STORAGE__SQLITE__PATH``,
...). One difference: the default bind address is loopback, not every interface.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
from pathlib import Path

from .logs import json_logging
from .push import PushConfig
from .server import ServerConfig, serve

LEVELS = ("trace", "debug", "info", "warn", "error")
LEVELS_BY_NAME = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
                  "warn": logging.WARNING, "error": logging.ERROR}  # fmt: skip


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_list(name: str) -> list[str]:
    """A list variable as the real server's config reads it (a JSON array), or one value."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return []
    if raw.startswith("["):
        return [str(item) for item in json.loads(raw)]
    return [raw]


def _push_arguments(sub: argparse.ArgumentParser) -> None:
    """HTTP push to ``http(s)://`` targets (serverless functions), as the real server's flags."""
    prefix = "RESONATE_TRANSPORTS__HTTP_PUSH__"
    sub.add_argument("--transports-http-push-concurrency", type=int,
                     default=int(_env(f"{prefix}CONCURRENCY", "256")),
                     help="pushes in flight at once")  # fmt: skip
    sub.add_argument("--transports-http-push-connect-timeout", type=int,
                     default=int(_env(f"{prefix}CONNECT_TIMEOUT", "10000")), help="ms")  # fmt: skip
    sub.add_argument("--transports-http-push-request-timeout", type=int,
                     default=int(_env(f"{prefix}REQUEST_TIMEOUT", "180000")),
                     help="ms for a whole push: above a function's run time")  # fmt: skip
    sub.add_argument("--transports-http-push-auth-mode",
                     default=_env(f"{prefix}AUTH__MODE", "none"),
                     help="none, or bearer (send the token)")  # fmt: skip
    sub.add_argument("--transports-http-push-auth-token", default=_env(f"{prefix}AUTH__TOKEN", ""))
    sub.add_argument("--transports-http-push-auth-header",
                     default=_env(f"{prefix}AUTH__HEADER", "Authorization"))  # fmt: skip


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
            help="ms between sweeps for due promise timeouts, lapsed leases and schedules",
        )
        _push_arguments(sub)
        sub.add_argument(
            "--observability-metrics-port",
            type=int,
            default=int(_env("RESONATE_OBSERVABILITY__METRICS_PORT", "9090")),
            help="serve GET /metrics (Prometheus) on this port; 0: not at all",
        )
        sub.add_argument(
            "--server-cors-allow-origin",
            action="append",
            default=_env_list("RESONATE_SERVER__CORS__ALLOW_ORIGINS"),
            help="an origin the browser may call the API from (repeat it; * for any)",
        )
    args = parser.parse_args(argv)
    if args.transports_http_push_auth_mode not in ("none", "bearer"):
        parser.error("--transports-http-push-auth-mode: none or bearer (gcp is not here)")
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
        push=PushConfig(
            concurrency=max(1, args.transports_http_push_concurrency),
            connect_timeout_ms=args.transports_http_push_connect_timeout,
            request_timeout_ms=args.transports_http_push_request_timeout,
            # As in the real server, the token counts only in bearer mode (cli.rs:292-313).
            auth_token=(args.transports_http_push_auth_token or "")
            if args.transports_http_push_auth_mode == "bearer"
            else None,
            auth_header=args.transports_http_push_auth_header,
        ),
        metrics_port=args.observability_metrics_port,
        cors_origins=tuple(args.server_cors_allow_origin),
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
