"""The worker's side of the progress record (``docflow_shared.progress``): attempts, worker,
and heartbeats. Best effort: a step never fails because its progress could not be written."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import redis
from docflow_shared.progress import progress_key
from docflow_shared.settings import WorkerSettings
from docflow_shared.workflow import DEADLINE_GRACE

from ..observability import WORKER_ID, logger


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return redis.Redis.from_url(WorkerSettings.current().redis_url, socket_timeout=2)


def _write(job: dict[str, Any], step: str | None) -> None:
    key = progress_key(job["jobId"])
    try:
        with _client().pipeline() as pipe:
            if step is not None:
                pipe.hincrby(key, f"{step}.attempts", 1)
                pipe.hset(key, f"{step}.worker", WORKER_ID)
            pipe.hset(key, "seenAt", int(time.time() * 1000))
            # Kept as long as the job may live.
            pipe.pexpireat(key, job["deadlineAt"] + int(DEADLINE_GRACE.total_seconds() * 1000))
            pipe.execute()
    except redis.RedisError as err:
        logger.warning("progress record not written", extra={"error": str(err)})


async def attempt_started(job: dict[str, Any], step: str) -> None:
    """One more attempt of ``step``, by this worker (a retry after an error counts too)."""
    await asyncio.to_thread(_write, job, step)


@asynccontextmanager
async def alive(job: dict[str, Any]) -> AsyncIterator[None]:
    """Show the job in this worker's hands until the block ends."""
    await asyncio.to_thread(_write, job, None)
    beating = asyncio.create_task(_heartbeat(job))
    try:
        yield
    finally:
        beating.cancel()
        await asyncio.to_thread(_write, job, None)


async def _heartbeat(job: dict[str, Any]) -> None:
    while True:
        await asyncio.sleep(WorkerSettings.current().heartbeat_seconds)
        await asyncio.to_thread(_write, job, None)
