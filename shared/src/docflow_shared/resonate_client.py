"""Resonate clients for docflow's processes.

The SDK's ``HttpConnection`` retries a failed connection forever (1 s → 60 s backoff). That is
right for a worker, which should ride out a server restart, and wrong for a front door: a Lambda
must answer 503 within its budget, and a request still retrying in the background could create
the job minutes later behind the caller's back. :class:`BoundedHttpConnection` therefore makes
every request finish (answer or :class:`ConnectorError`) within ``budget_seconds``.

A worker receives its tasks on one long-lived server-sent-events request. The SDK opens it with
aiohttp's default timeout, 5 minutes in total, and its reconnect loop does not catch the plain
``TimeoutError`` that ends it: every worker silently stopped receiving tasks 5 minutes after it
connected. :class:`TaskListener` opens it without a total timeout; a silent connection (not
even the server's keep-alive) ends with a read timeout, which the loop does reconnect after.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
from resonate.connections import SSEConnection
from resonate.error import DecodingError, ServerError
from resonate.resonate import Resonate
from resonate_base.error import ConnectorError

from .errors import BackendRejected, BackendUnavailable, JobNotFound
from .settings import ResonateSettings, WorkerSettings

if TYPE_CHECKING:
    from resonate.retry import RetryPolicy

FIRST_RETRY_DELAY = 0.05
#: A task listener hearing nothing (no task, no keep-alive) for this long reconnects.
LISTENER_READ_TIMEOUT_SECONDS = 60.0


class TaskListener(SSEConnection):
    """The SDK's task listener, with a session that never ends the one long request."""

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            if self._stopped:
                msg = "source has been stopped"
                raise RuntimeError(msg)
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=10, sock_read=LISTENER_READ_TIMEOUT_SECONDS
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session


class BoundedHttpConnection:
    """A ``resonate_base.connections.Network`` whose requests give up after ``budget_seconds``.

    Connection failures are retried (short, growing pauses) only while the budget lasts; then
    the caller gets a ``ConnectorError`` and nothing keeps running after it.
    """

    def __init__(self, url: str, budget_seconds: float = 2.0, auth: str | None = None) -> None:
        self._url = url.rstrip("/")
        self._budget = budget_seconds
        self._auth = auth
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, req: str, headers: dict[str, str] | None = None) -> str:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if self._auth is not None:
            all_headers["Authorization"] = f"Bearer {self._auth}"
        deadline = time.monotonic() + self._budget
        delay = FIRST_RETRY_DELAY
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"Resonate at {self._url} did not answer within {self._budget:g} s"
                raise ConnectorError(TimeoutError(msg))
            try:
                async with asyncio.timeout(remaining):
                    async with self._client().post(
                        f"{self._url}/", data=req, headers=all_headers
                    ) as resp:
                        return await resp.text()
            except aiohttp.ClientError:
                # Refused, reset, or a pooled connection the server closed (it restarted).
                # Sending again is safe: every request a front door makes is idempotent.
                await asyncio.sleep(min(delay, max(deadline - time.monotonic(), 0)))
                delay *= 2
            except TimeoutError as exc:
                raise ConnectorError(exc) from exc

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session


def sender_client(settings: ResonateSettings) -> Resonate:
    """A send-only client for a front door: bounded requests, no listener, no polling loop.

    Must be created inside a running event loop (the SDK starts its connections there).
    """
    return Resonate(
        network=BoundedHttpConnection(settings.resonate_url, settings.resonate_timeout_seconds),
        sources=[],
        subscription_refresh_secs=0,
    )


def worker_client(settings: WorkerSettings, *, retry_policy: RetryPolicy | None = None) -> Resonate:
    """A long-running worker: joins the worker group, retries through server restarts, and
    keeps receiving tasks however long it runs (:class:`TaskListener`)."""
    pid = uuid.uuid4().hex
    group = settings.worker_group
    token = os.environ.get("RESONATE_TOKEN")  # what the SDK's own listener would send
    return Resonate(
        url=settings.resonate_url,
        group=group,
        pid=pid,
        sources=[TaskListener(settings.resonate_url, pid=pid, group=group, auth=token)],
        ttl=timedelta(seconds=settings.task_ttl_seconds),
        retry_policy=retry_policy,
    )


class LambdaResonate:
    """The one Resonate client of a Lambda container, reused across warm invocations.

    Lambda handlers are synchronous, the SDK is asyncio: a module-level event loop (never one
    per request) runs each call, and the client is created lazily inside it on first use. Every
    call finishes within the settings' budget or raises ``BackendUnavailable``.
    """

    def __init__(self, settings: Callable[[], ResonateSettings]) -> None:
        self._settings = settings  # read at each call: tests change the environment
        self._loop = asyncio.new_event_loop()
        self._client: Resonate | None = None

    def call[T](self, operation: Callable[[Resonate], Awaitable[T]]) -> T:
        settings = self._settings()

        async def bounded() -> T:
            if self._client is None:
                self._client = sender_client(settings)
            async with asyncio.timeout(settings.resonate_timeout_seconds):
                return await operation(self._client)

        try:
            return self._loop.run_until_complete(bounded())
        except (ConnectorError, TimeoutError, DecodingError) as err:
            # DecodingError: something answered that is not Resonate (a proxy's error page).
            msg = "the workflow service is not answering; retry shortly"
            raise BackendUnavailable(msg) from err
        except ServerError as err:
            if err.code == 404:
                raise JobNotFound(err.message) from err
            if err.code == 429 or err.code >= 500:
                msg = f"the workflow service is failing ({err.code}); retry shortly"
                raise BackendUnavailable(msg) from err
            msg = f"the workflow service refused the request ({err.code}): {err.message}"
            raise BackendRejected(msg) from err
