"""The stream consumer: reads ``docflow:notifications`` in group ``notifier``, delivers webhooks.

Each event is POSTed to its job's ``callbackUrl`` as a Standard Webhook (``signing``): the payload
``{"type": "job.done" | "job.failed" | ..., "timestamp", "data": {jobId, requesterId, status,
correlationId, ...}}`` (a decision's, ``audit.approved`` | ``audit.cancel_requested`` | ..., has its
``audit`` entry instead of a status), the headers ``webhook-id`` (the stream entry id, stable across
retries), ``webhook-timestamp``, ``webhook-signature`` and ``X-Correlation-Id`` (the id of the
request that started the job), plus the deprecated ``X-Docflow-*`` headers. 2xx: delivered. 4xx
other than 408/429: permanent, dead-lettered. Anything else (5xx, 408, 429, timeouts, refused
connections): retried with exponential backoff and jitter up to ``DOCFLOW_WEBHOOK_MAX_ATTEMPTS``,
then dead-lettered. The stream entry is acknowledged only once the outcome is recorded; after a
crash, this consumer's pending entries (and, after ``STALE_AFTER_MS``, any other consumer's) are
processed again, and a delivery record marked delivered is never sent again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import redis.asyncio as redis
from docflow_shared.errors import InvalidDocument
from docflow_shared.observability import log_keys
from docflow_shared.retry import Backoff, is_transient
from docflow_shared.settings import NotifierSettings
from docflow_shared.url_guard import check_url
from docflow_shared.workflow import NOTIFICATION_STREAM

from . import deliveries
from .observability import count_delivery, logger
from .signing import SigningSecrets

GROUP = "notifier"
DEAD_LETTERS = f"{NOTIFICATION_STREAM}:dead"
STALE_AFTER_MS = 60_000
MAX_BACKOFF_SECONDS = 60.0
REDIS_BACKOFF = Backoff(first_seconds=1.0, max_seconds=MAX_BACKOFF_SECONDS, jitter=0.5)
CONCURRENCY = 16


class Permanent(Exception):
    """The receiver refused the event for good (4xx other than 408/429), or the URL is refused."""


class Consumer:
    def __init__(self, settings: NotifierSettings, name: str | None = None) -> None:
        self.settings = settings
        self.secrets = SigningSecrets.parse(settings.webhook_secret)
        self.backoff = Backoff(settings.webhook_backoff_seconds, MAX_BACKOFF_SECONDS, jitter=0.5)
        self.name = name or socket.gethostname()
        self.redis = redis.Redis.from_url(settings.redis_url)
        self.http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)
        self.slots = asyncio.Semaphore(CONCURRENCY)
        self.in_flight: dict[str, asyncio.Task[None]] = {}
        self.failed_connections = 0

    async def close(self) -> None:
        for task in list(self.in_flight.values()):
            task.cancel()
        await self.http.aclose()
        await self.redis.aclose()

    async def run_forever(self) -> None:
        """Consume until cancelled, riding out Redis outages."""
        while True:
            try:
                await self.run()
            except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
                self.failed_connections += 1
                pause = REDIS_BACKOFF.delay(self.failed_connections)
                logger.warning(
                    "Redis unavailable; retrying", extra={"error": str(err), "retryIn": pause}
                )
                await asyncio.sleep(pause)

    async def run(self) -> None:
        try:
            await self.redis.xgroup_create(NOTIFICATION_STREAM, GROUP, id="0", mkstream=True)
        except redis.ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise
        self.failed_connections = 0  # Redis answered: the next outage backs off from the start
        logger.info(
            "notifier consuming", extra={"stream": NOTIFICATION_STREAM, "consumer": self.name}
        )
        # What this consumer had read but not finished before a crash comes first.
        await self._dispatch(
            await self.redis.xreadgroup(GROUP, self.name, {NOTIFICATION_STREAM: "0"})
        )
        while True:
            _, claimed, _ = await self.redis.xautoclaim(
                NOTIFICATION_STREAM, GROUP, self.name, STALE_AFTER_MS, count=CONCURRENCY
            )
            await self._dispatch([(NOTIFICATION_STREAM, claimed)] if claimed else [])
            read = await self.redis.xreadgroup(
                GROUP, self.name, {NOTIFICATION_STREAM: ">"}, count=CONCURRENCY, block=1000
            )
            await self._dispatch(read)

    async def _dispatch(self, read: Any) -> None:
        for _stream, entries in read or []:
            for entry_id, fields in entries:
                event_id = entry_id.decode()
                # Deleted from the stream meanwhile, or (reclaimed) already being delivered here.
                if not fields or event_id in self.in_flight:
                    continue
                await self.slots.acquire()
                task = asyncio.create_task(self._handle(event_id, fields))
                self.in_flight[event_id] = task
                task.add_done_callback(functools.partial(self._finished, event_id))

    def _finished(self, event_id: str, _task: asyncio.Task[None]) -> None:
        self.in_flight.pop(event_id, None)
        self.slots.release()

    async def _handle(self, event_id: str, fields: dict[bytes, bytes]) -> None:
        event = json.loads(fields[b"event"])
        job_id = str(event.get("jobId", ""))
        keys = {"eventId": event_id, "jobId": job_id}
        with log_keys(logger, **keys, correlation_id=event.get("correlationId")):
            await self._handle_event(event_id, event, keys)

    async def _handle_event(
        self, event_id: str, event: dict[str, Any], keys: dict[str, str]
    ) -> None:
        job_id = keys["jobId"]
        try:
            existing = await deliveries.get(self.redis, event_id)
            if existing.get("status") in deliveries.FINAL:
                logger.info("already handled", extra={"status": existing["status"]})
            elif not event.get("callbackUrl"):
                await deliveries.record(self.redis, event_id, job_id, status=deliveries.SKIPPED)
            else:
                await self._deliver(event_id, event, int(existing.get("attempts", 0)), keys)
            await self.redis.xack(NOTIFICATION_STREAM, GROUP, event_id)
        except Exception:
            logger.exception("delivery crashed; the entry stays pending")

    async def _deliver(
        self, event_id: str, event: dict[str, Any], attempts: int, keys: dict[str, str]
    ) -> None:
        url = event["callbackUrl"]
        job_id = keys["jobId"]
        body = json.dumps(webhook_payload(event_id, event), separators=(",", ":")).encode()
        while True:
            attempts += 1
            try:
                await self._post(url, event_id, body, event.get("correlationId"))
            except Permanent as err:
                await self._dead_letter(event_id, event, attempts, str(err))
                return
            except Exception as err:
                if attempts >= self.settings.webhook_max_attempts:
                    await self._dead_letter(event_id, event, attempts, f"gave up: {err}")
                    return
                pause = self.backoff.delay(attempts)
                await deliveries.record(
                    self.redis,
                    event_id,
                    job_id,
                    status=deliveries.RETRYING,
                    attempts=attempts,
                    url=url,
                    lastError=str(err),
                )
                logger.warning(
                    "delivery failed, retrying",
                    extra={"attempt": attempts, "error": str(err), "retryIn": pause},
                )
                count_delivery("retrying")
                await asyncio.sleep(pause)
                # Still ours: reset the entry's idle time so no other replica reclaims it.
                await self.redis.xclaim(NOTIFICATION_STREAM, GROUP, self.name, 0, [event_id],
                                        justid=True)  # fmt: skip
                continue
            await deliveries.record(
                self.redis,
                event_id,
                job_id,
                status=deliveries.DELIVERED,
                attempts=attempts,
                url=url,
                deliveredAt=time.time(),
            )
            logger.info("delivered", extra={"attempt": attempts})
            count_delivery("delivered")
            return

    async def _post(self, url: str, event_id: str, body: bytes, correlation_id: str | None) -> None:
        try:
            pinned = await asyncio.to_thread(check_url, url, self.settings.url_allowlist)
        except InvalidDocument as err:
            raise Permanent(f"{err.reason}: {err.message}") from err
        timestamp = int(time.time())  # signed anew on every attempt: receivers refuse old ones
        response = await self.http.post(
            pinned.url,
            content=body,
            extensions=pinned.extensions,
            headers={
                **pinned.headers,
                "Content-Type": "application/json",
                "webhook-id": event_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": self.secrets.signature(event_id, timestamp, body),
                # Deprecated (the scheme before Standard Webhooks); removed in the next release.
                "X-Docflow-Event-Id": event_id,
                "X-Docflow-Timestamp": str(timestamp),
                "X-Docflow-Signature": self.secrets.legacy_signature(timestamp, body),
                **({"X-Correlation-Id": correlation_id} if correlation_id else {}),
            },
        )
        status = response.status_code
        if 200 <= status < 300:
            return
        if not is_transient(status):
            raise Permanent(f"the receiver answered {status}")
        raise RuntimeError(f"the receiver answered {status}")

    async def _dead_letter(
        self, event_id: str, event: dict[str, Any], attempts: int, reason: str
    ) -> None:
        job_id = str(event.get("jobId", ""))
        await self.redis.xadd(
            DEAD_LETTERS, {"eventId": event_id, "event": json.dumps(event), "reason": reason}
        )
        await deliveries.record(
            self.redis,
            event_id,
            job_id,
            status=deliveries.DEAD,
            attempts=attempts,
            url=event.get("callbackUrl", ""),
            lastError=reason,
        )
        logger.warning("dead-lettered", extra={"attempt": attempts, "reason": reason})
        count_delivery("dead_lettered")


def _with_status(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """A job event's data says the status it announces (``job.done``: done); a decision's
    (``audit.<action>``) carries its audit entry instead."""
    if not event_type.startswith("job."):
        return data
    return {"status": event_type.removeprefix("job."), **data}


def webhook_payload(event_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks payload of a stream event: its type, when it happened (the stream
    entry's time, so every retry sends the same body) and its data."""
    millis = int(event_id.split("-", 1)[0])
    data = {k: v for k, v in event.items() if k not in ("type", "callbackUrl")}
    return {
        "type": event["type"],
        "timestamp": datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="milliseconds"),
        "data": _with_status(event["type"], data),
    }
