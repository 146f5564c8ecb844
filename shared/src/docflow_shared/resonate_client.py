"""The worker's Resonate client (the front doors have their own: ``resonate_http``).

The SDK's ``HttpConnection`` retries a failed connection forever (1 s → 60 s backoff): right for
a worker, which should ride out a server restart.

A worker receives its tasks on one long-lived server-sent-events request. The SDK opens it with
aiohttp's default timeout, 5 minutes in total, and its reconnect loop does not catch the plain
``TimeoutError`` that ends it: every worker silently stopped receiving tasks 5 minutes after it
connected. :class:`TaskListener` opens it without a total timeout; a silent connection (not
even the server's keep-alive) ends with a read timeout, which the loop does reconnect after.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
from resonate.connections import SSEConnection
from resonate.resonate import Resonate

from .settings import WorkerSettings

if TYPE_CHECKING:
    from resonate.retry import RetryPolicy

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


def worker_client(
    settings: WorkerSettings, *, group: str | None = None, retry_policy: RetryPolicy | None = None
) -> Resonate:
    """A long-running worker: joins the worker group (``group``, or the settings'), retries
    through server restarts, and keeps receiving tasks however long it runs
    (:class:`TaskListener`)."""
    pid = uuid.uuid4().hex
    group = group or settings.worker_group
    token = os.environ.get("RESONATE_TOKEN")  # what the SDK's own listener would send
    return Resonate(
        url=settings.resonate_url,
        group=group,
        pid=pid,
        sources=[TaskListener(settings.resonate_url, pid=pid, group=group, auth=token)],
        ttl=timedelta(seconds=settings.task_ttl_seconds),
        retry_policy=retry_policy,
    )
