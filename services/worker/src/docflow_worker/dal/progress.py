"""The worker's side of the progress record (``docflow_shared.progress``): attempts, worker,
and heartbeats; and its liveness record, with the workflow versions it runs. Best effort: a step
never fails because its progress could not be written."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache

import redis
from docflow_shared.progress import progress_key
from docflow_shared.settings import WorkerSettings
from docflow_shared.workflow import DEADLINE_GRACE, LIVE_WORKER_PREFIX

from ..domain import Job
from ..observability import WORKER_ID, logger


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return redis.Redis.from_url(WorkerSettings.current().redis_url, socket_timeout=2)


def _write(job: Job, step: str | None) -> None:
    key = progress_key(job.job_id)
    now = int(time.time() * 1000)
    try:
        with _client().pipeline() as pipe:
            if step is not None:
                pipe.hincrby(key, f"{step}.attempts", 1)
                pipe.hset(key, mapping={f"{step}.worker": WORKER_ID, f"{step}.startedAt": now})
            pipe.hset(key, "seenAt", now)
            # Kept as long as the job may live.
            pipe.pexpireat(key, job.deadline_at + int(DEADLINE_GRACE.total_seconds() * 1000))
            pipe.execute()
    except redis.RedisError as err:
        logger.warning("progress record not written", extra={"error": str(err)})


async def attempt_started(job: Job, step: str) -> None:
    """One more attempt of ``step``, by this worker (a retry after an error counts too)."""
    await asyncio.to_thread(_write, job, step)


@asynccontextmanager
async def alive(job: Job) -> AsyncIterator[None]:
    """Show the job in this worker's hands until the block ends."""
    await asyncio.to_thread(_write, job, None)
    beating = asyncio.create_task(_heartbeat(job))
    try:
        yield
    finally:
        beating.cancel()
        await asyncio.to_thread(_write, job, None)


async def _heartbeat(job: Job) -> None:
    while True:
        await asyncio.sleep(WorkerSettings.current().heartbeat_seconds)
        await asyncio.to_thread(_write, job, None)


def announce(versions: list[int]) -> None:
    """Say, until it expires, that this worker is alive and runs ``versions``."""
    settings = WorkerSettings.current()
    lifetime_ms = int(settings.stuck_after_seconds * 1000)
    record = json.dumps({"versions": versions, "seenAt": int(time.time() * 1000)})
    try:
        _client().set(f"{LIVE_WORKER_PREFIX}{WORKER_ID}", record, px=lifetime_ms)
    except redis.RedisError as err:
        logger.warning("liveness not written", extra={"error": str(err)})


async def announce_while_running(versions: list[int]) -> None:
    """Renew this worker's liveness record (three times per ``DOCFLOW_STUCK_AFTER``, like a
    job's heartbeat) until canceled; then withdraw it."""
    try:
        while True:
            await asyncio.to_thread(announce, versions)
            await asyncio.sleep(WorkerSettings.current().heartbeat_seconds)
    finally:
        await asyncio.to_thread(_withdraw)


def _withdraw() -> None:
    try:
        _client().delete(f"{LIVE_WORKER_PREFIX}{WORKER_ID}")
    except redis.RedisError as err:
        logger.warning("liveness not withdrawn", extra={"error": str(err)})
