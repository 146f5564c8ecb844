"""HTTP face of the dev server: the ``POST /`` envelope, SSE polling, health.

Wire behaviour mirrors the real server (resonatehq/resonate): the HTTP status copies
``head.status``, envelope errors answer 400 with a string ``data``, ``GET /poll/{group}/{id}``
streams ``data: <json>\\n\\n`` frames, and an ``execute`` for a group nobody is polling is
dropped (a pending task is re-sent by the retry timer, so nothing is lost).

One deliberate difference: a message for one process (``poll://uni@group/id``) that is not
connected right now -- typically reconnecting after a server restart -- is held for
``UNICAST_HOLD_SECONDS`` and handed over when it reconnects. The real server drops it, and the
SDK then only learns of the settled promise from its 60 s refresh loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from .engine import Engine, Outgoing
from .fields import ProtocolError
from .metrics import Metrics
from .push import HttpPush, PushConfig

log = logging.getLogger("docflow.resonate")

PROTOCOL_VERSION = "2026-04-01"
MAX_BODY_BYTES = 10 * 1024 * 1024
KEEPALIVE_SECONDS = 15.0
UNICAST_HOLD_SECONDS = 60.0
UNICAST_HOLD_MAX = 1000
LEGACY_PREFIXES = ("/promises", "/schedules", "/tasks")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8001
    url: str = ""
    sqlite_path: str = ":memory:"
    retry_timeout_ms: int = 30_000
    poll_interval_ms: int = 1_000
    push: PushConfig = field(default_factory=PushConfig)
    metrics_port: int = 0  # 0: none (the command line's default is the real server's, 9090)
    cors_origins: tuple[str, ...] = ()  # "*": any

    @property
    def server_url(self) -> str:
        return self.url or f"http://{self.host}:{self.port}"


@dataclass(eq=False)
class Listener:
    queue: asyncio.Queue[str | None]
    request: web.Request

    def alive(self) -> bool:
        transport = self.request.transport
        return transport is not None and not transport.is_closing()


class Listeners:
    """The SSE connections, by group and id, and delivery to ``poll://`` addresses."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[str, Listener]] = {}
        # (group, id) -> messages for a process that was not connected: (held since, payload)
        self._held: dict[tuple[str, str], list[tuple[float, str]]] = {}

    def connect(self, group: str, pid: str, request: web.Request) -> Listener:
        listener = Listener(asyncio.Queue(), request)
        members = self._groups.setdefault(group, {})
        previous = members.get(pid)
        if previous is not None:  # a reconnect replaces the stale stream
            self._hold_undelivered(group, pid, previous)
            previous.queue.put_nowait(None)
        members[pid] = listener
        fresh_after = time.monotonic() - UNICAST_HOLD_SECONDS
        for held_at, payload in self._held.pop((group, pid), []):
            if held_at >= fresh_after:
                listener.queue.put_nowait(payload)
        return listener

    def _hold(self, group: str, pid: str, payload: str) -> None:
        held = self._held.setdefault((group, pid), [])
        held.append((time.monotonic(), payload))
        del held[:-UNICAST_HOLD_MAX]

    def drop_stale(self) -> None:
        """Forget held messages nobody came back for."""
        fresh_after = time.monotonic() - UNICAST_HOLD_SECONDS
        for key in list(self._held):
            self._held[key] = [item for item in self._held[key] if item[0] >= fresh_after]
            if not self._held[key]:
                del self._held[key]

    def disconnect(self, group: str, pid: str, listener: Listener) -> None:
        members = self._groups.get(group, {})
        if members.get(pid) is listener:
            self._hold_undelivered(group, pid, listener)
            del members[pid]
            if not members:
                self._groups.pop(group, None)

    def _hold_undelivered(self, group: str, pid: str, listener: Listener) -> None:
        """Messages queued for a stream that ended wait for the same process to reconnect."""
        while not listener.queue.empty():
            payload = listener.queue.get_nowait()
            if payload is not None:
                self._hold(group, pid, payload)

    def close_all(self) -> None:
        for members in self._groups.values():
            for listener in members.values():
                listener.queue.put_nowait(None)

    def deliver(self, address: str, payload: str) -> bool:
        """Hand ``payload`` to the listener the address names; False when nobody is there."""
        try:
            parts = urlsplit(address)
        except ValueError:
            return False
        if parts.scheme != "poll" or parts.username not in ("uni", "any") or not parts.hostname:
            return False
        members = self._groups.get(parts.hostname, {})
        pid = parts.path.lstrip("/")
        listener = members.get(pid) if pid else None
        if listener is None and parts.username == "any":
            # A process that died a moment ago may not be unregistered yet: skip it.
            alive = [m for m in members.values() if m.alive()]
            listener = random.choice(alive) if alive else None
        if listener is None or not listener.alive():
            if parts.username == "uni" and pid:
                self._hold(parts.hostname, pid, payload)
            return False
        listener.queue.put_nowait(payload)
        return True


class ResonateServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.engine = Engine(config.sqlite_path, retry_timeout=config.retry_timeout_ms)
        self.listeners = Listeners()
        self.metrics = Metrics()
        self.push = HttpPush(config.push, self.metrics.delivered)
        self._ticker: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ app

    def app(self) -> web.Application:
        middlewares = [cors(self.config.cors_origins)] if self.config.cors_origins else []
        app = web.Application(client_max_size=MAX_BODY_BYTES,
                              middlewares=[*middlewares, _log_requests])  # fmt: skip
        app.router.add_post("/", self.handle_envelope)
        app.router.add_get("/poll/{group}/{id}", self.handle_poll)
        app.router.add_get("/health", self.handle_health)
        app.router.add_get("/ready", self.handle_ready)
        app.router.add_route("*", "/{tail:.*}", self.handle_other)
        app.on_startup.append(self._start_ticker)
        app.on_shutdown.append(self._shutdown)
        app.on_cleanup.append(self._close_store)  # after in-flight requests have finished
        return app

    async def _start_ticker(self, _app: web.Application) -> None:
        self._ticker = asyncio.create_task(self._tick_loop())

    async def _shutdown(self, _app: web.Application) -> None:
        self.listeners.close_all()
        await self.push.close()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker

    async def _close_store(self, _app: web.Application) -> None:
        self.engine.close()

    async def _tick_loop(self) -> None:
        interval = self.config.poll_interval_ms / 1000
        while True:
            try:
                fired = self.engine.schedule_promises
                self.deliver(self.engine.tick(now_ms()))
                self.metrics.schedule_promises.inc(self.engine.schedule_promises - fired)
                self.listeners.drop_stale()
            except Exception:  # keep sweeping: one bad row must not stop every timer
                log.exception("timeout sweep failed")
            await asyncio.sleep(interval)

    def deliver(self, outgoing: list[Outgoing]) -> None:
        for out in outgoing:
            kind = out.message["kind"]
            self.metrics.messages.labels(kind).inc()
            head = {"serverUrl": self.config.server_url} if kind == "execute" else {}
            payload = json.dumps({**out.message, "head": head}, separators=(",", ":"))
            if out.address.startswith(("http://", "https://")):
                self.push.send(out.address, payload)
            elif not self.listeners.deliver(out.address, payload):
                log.debug("no listener for %s; dropped %s", out.address, kind)

    # ------------------------------------------------------------------ handlers

    async def handle_envelope(self, request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _envelope_error(
                413, "unknown", "0", f"Request body exceeds {MAX_BODY_BYTES} bytes"
            )
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _envelope_error(400, "unknown", "0", f"Invalid request envelope: {exc}")
        kind, corr_id, problem = _check_envelope(raw)
        if problem is not None:
            return _envelope_error(400, kind, corr_id, problem)

        flat = {**raw["data"], "kind": kind, "corrId": corr_id}
        started = time.perf_counter()
        response = self._apply(kind, corr_id, flat)
        self.metrics.requests.labels(kind, str(response.status)).inc()
        self.metrics.durations.labels(kind).observe(time.perf_counter() - started)
        return response

    def _apply(self, kind: str, corr_id: str, flat: dict[str, Any]) -> web.Response:
        try:
            answer = self.engine.apply(now_ms(), flat)
        except ProtocolError as exc:
            return _envelope_error(exc.status, kind, corr_id, exc.message)
        except Exception as exc:
            log.exception("request %s failed", kind)
            return _envelope_error(500, kind, corr_id, f"Internal error: {type(exc).__name__}")
        outgoing = self.engine.outgoing
        self.engine.outgoing = []
        self.deliver(outgoing)
        return _envelope(answer)

    async def handle_poll(self, request: web.Request) -> web.StreamResponse:
        group, pid = request.match_info["group"].lower(), request.match_info["id"]
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        listener = self.listeners.connect(group, pid, request)
        log.debug("poll connected group=%s id=%s", group, pid)
        try:
            while True:
                try:
                    payload = await asyncio.wait_for(listener.queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if payload is None:
                    break
                await response.write(f"data: {payload}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.listeners.disconnect(group, pid, listener)
            log.debug("poll disconnected group=%s id=%s", group, pid)
        return response

    async def handle_health(self, _request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def handle_ready(self, _request: web.Request) -> web.Response:
        try:
            self.engine.ping()
        except Exception:
            log.exception("storage is not answering")
            return web.Response(status=503)
        return web.Response(status=200)

    async def handle_other(self, request: web.Request) -> web.Response:
        if request.path.startswith(LEGACY_PREFIXES):
            return web.json_response(
                {"error": "This endpoint is no longer supported. Please update to the latest SDK."},
                status=410,
            )
        return web.json_response({"error": f"no route {request.method} {request.path}"}, status=404)


def _check_envelope(raw: Any) -> tuple[str, str, str | None]:
    """The request's kind and corrId, and what is wrong with its envelope (None: nothing)."""
    if not isinstance(raw, dict):
        return "unknown", "0", "Invalid request envelope: expected a JSON object"
    kind = raw.get("kind")
    head = raw.get("head")
    corr_id = head.get("corrId") if isinstance(head, dict) else None
    kind_out = kind if isinstance(kind, str) and kind else "unknown"
    corr_out = corr_id if isinstance(corr_id, str) else "0"
    if not isinstance(head, dict):
        return kind_out, corr_out, "Invalid request envelope: missing field `head`"
    for key in ("corrId", "version"):
        if not isinstance(head.get(key), str):
            return kind_out, corr_out, f"Invalid request envelope: missing field `{key}`"
    if not isinstance(kind, str) or not kind:
        return kind_out, corr_out, "Missing or invalid 'kind' field — must be a non-empty string"
    if not isinstance(raw.get("data"), dict):
        return kind_out, corr_out, "Invalid 'data' field — must be an object"
    if head["version"] != PROTOCOL_VERSION:
        return (
            kind_out,
            corr_out,
            f"Unsupported protocol version '{head['version']}', "
            f'supported versions: ["{PROTOCOL_VERSION}"]',
        )
    return kind, corr_out, None


def _envelope(flat: dict[str, Any]) -> web.Response:
    data: Any = {k: v for k, v in flat.items() if k not in ("kind", "corrId", "status")}
    if set(data) == {"error"}:
        data = data["error"]  # an error's data is its message (types.rs:739-741)
    status = int(flat["status"])
    body = {
        "kind": flat["kind"],
        "head": {"corrId": flat["corrId"], "status": status, "version": PROTOCOL_VERSION},
        "data": data,
    }
    return web.json_response(body, status=status)


def _envelope_error(status: int, kind: str, corr_id: str, message: str) -> web.Response:
    body = {
        "kind": kind,
        "head": {"corrId": corr_id, "status": status, "version": PROTOCOL_VERSION},
        "data": message,
    }
    return web.json_response(body, status=status)


@web.middleware
async def _log_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    started = time.perf_counter()
    response: web.StreamResponse = await handler(request)
    log.debug(
        "%s %s -> %s in %.1f ms",
        request.method,
        request.path,
        response.status,
        (time.perf_counter() - started) * 1000,
    )
    return response


CORS_METHODS = "GET,POST,PUT,PATCH,DELETE,OPTIONS"
CORS_HEADERS = "origin,content-length,content-type,authorization"
CORS_VARY = "origin, access-control-request-method, access-control-request-headers"


def cors(origins: tuple[str, ...]) -> Any:
    """CORS as the real server's ``--server-cors-allow-origin`` (main.rs:433-457, tower-http):
    a listed origin is echoed back, ``*`` allows any; every ``OPTIONS`` is a preflight, answered
    200 at once; the Resonate web UI reads the API from its own origin so."""
    anyone = "*" in origins

    @web.middleware
    async def allow(request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get("Origin", "")
        allowed = "*" if anyone else (origin if origin in origins else None)
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=200)
            response.headers["Access-Control-Allow-Methods"] = "*" if anyone else CORS_METHODS
            response.headers["Access-Control-Allow-Headers"] = "*" if anyone else CORS_HEADERS
        else:
            response = await handler(request)
            if anyone:
                response.headers["Access-Control-Expose-Headers"] = "*"
        response.headers["Vary"] = CORS_VARY
        if allowed is not None:
            response.headers["Access-Control-Allow-Origin"] = allowed
        return response

    return allow


async def serve_metrics(server: ResonateServer) -> web.AppRunner | None:
    """The metrics port; like the real server, one that cannot be bound is logged, not fatal."""
    config = server.config
    if not config.metrics_port:
        return None
    runner = web.AppRunner(server.metrics.app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.host, config.metrics_port).start()
    except OSError as exc:
        log.warning("Failed to bind metrics port %s: %s", config.metrics_port, exc)
        await runner.cleanup()
        return None
    log.info("metrics on http://%s:%s/metrics", config.host, config.metrics_port)
    return runner


async def serve(config: ServerConfig, ready: asyncio.Event | None = None) -> None:
    """Run until cancelled (or SIGTERM/SIGINT, when started from the CLI)."""
    server = ResonateServer(config)
    # handler_cancellation: a poller that goes away is unregistered at once, not at the next
    # keepalive, so no execute message is handed to a dead process.
    runner = web.AppRunner(
        server.app(), access_log=None, handle_signals=False, handler_cancellation=True
    )
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, shutdown_timeout=2.0)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        msg = f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
        raise SystemExit(msg) from exc
    log.info(
        "Resonate dev server listening bind=%s port=%s server_url=%s store=%s",
        config.host,
        config.port,
        config.server_url,
        config.sqlite_path,
    )
    metrics = await serve_metrics(server)
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        if metrics is not None:
            await metrics.cleanup()
        await runner.cleanup()
