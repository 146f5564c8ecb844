"""HTTP push: messages for ``http(s)://`` addresses (serverless functions), POSTed as the real
server posts them (resonatehq/resonate v0.9.8, ``src/transport/transport_http_push.rs:136-176``):
the JSON an SSE frame carries, ``Content-Type: application/json``, and with a token, the
``Authorization: Bearer <token>`` header (or another header, if configured).

Pushes never hold up the server: each runs as its own task, at most ``concurrency`` at once,
with a connect timeout and a (long: a function may take minutes to answer) request timeout.
The real v0.9.8 awaits each push in turn, so one slow function delays every other delivery by
up to its request timeout; its unreleased HEAD sends them side by side like this (commit
f422b5a5, "Make http push and gcp non-blocking", #1108). A push that fails (refused, timed
out, not 2xx) is logged and counted, not retried: the task's retry timer, or its lease expiry,
sends the execute message again, as in the real server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

log = logging.getLogger("docflow.resonate")


@dataclass(frozen=True)
class PushConfig:
    concurrency: int = 256  # the real server's HEAD default
    connect_timeout_ms: int = 10_000
    request_timeout_ms: int = 180_000
    auth_token: str | None = None  # bearer mode when set
    auth_header: str = "Authorization"


class HttpPush:
    def __init__(self, config: PushConfig, delivered: Callable[[bool], None]) -> None:
        self.config = config
        self._delivered = delivered  # told whether each push succeeded (the metric)
        self._slots = asyncio.Semaphore(config.concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._running: set[asyncio.Task[None]] = set()  # kept: the loop holds weak references

    def send(self, url: str, payload: str) -> None:
        """Push ``payload`` to ``url`` in the background."""
        task = asyncio.get_running_loop().create_task(self._push(url, payload))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _push(self, url: str, payload: str) -> None:
        headers = {"Content-Type": "application/json"}
        if self.config.auth_token is not None:
            headers[self.config.auth_header] = f"Bearer {self.config.auth_token}"
        async with self._slots:
            try:
                async with self._client().post(url, data=payload, headers=headers) as answer:
                    await answer.read()
                    ok = 200 <= answer.status < 300
                    if not ok:
                        log.warning("HTTP push delivery rejected by target",
                                    extra={"url": url, "status": answer.status})  # fmt: skip
            except (aiohttp.ClientError, TimeoutError) as err:
                ok = False
                log.warning("HTTP push delivery failed", extra={"url": url, "error": repr(err)})
        self._delivered(ok)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(
                total=self.config.request_timeout_ms / 1000,
                sock_connect=self.config.connect_timeout_ms / 1000,
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()
        if self._session is not None:
            await self._session.close()
