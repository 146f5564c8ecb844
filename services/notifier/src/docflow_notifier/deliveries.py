"""Delivery records in Redis: one per event, so a restart never re-sends what was acknowledged.

``docflow:delivery:<eventId>`` (hash): status, attempts, jobId, url, lastError, updatedAt.
``docflow:deliveries`` (sorted set by time) and ``docflow:deliveries:job:<jobId>`` (set) list them.
"""

from __future__ import annotations

import time
from typing import Any, cast

import redis.asyncio as redis

RECENT = "docflow:deliveries"

DELIVERED, DEAD, SKIPPED, RETRYING = "delivered", "dead", "skipped", "retrying"
FINAL = (DELIVERED, DEAD, SKIPPED)


def _key(event_id: str) -> str:
    return f"docflow:delivery:{event_id}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def get(client: redis.Redis, event_id: str) -> dict[str, str]:
    raw = await client.hgetall(_key(event_id))
    return {_text(k): _text(v) for k, v in raw.items()}


async def record(client: redis.Redis, event_id: str, job_id: str, **fields: Any) -> None:
    now = time.time()
    values: dict[Any, str] = {k: str(v) for k, v in fields.items()}
    values |= {"jobId": job_id, "updatedAt": str(now)}
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(_key(event_id), mapping=values)
        pipe.zadd(RECENT, {event_id: now}, nx=True)
        pipe.sadd(f"docflow:deliveries:job:{job_id}", event_id)
        await pipe.execute()


async def listing(client: redis.Redis, job_id: str | None, limit: int) -> list[dict[str, str]]:
    if job_id:
        ids = sorted(_text(m) for m in await client.smembers(f"docflow:deliveries:job:{job_id}"))
    else:
        # Without scores, members only.
        ids = [_text(cast("bytes", m)) for m in await client.zrevrange(RECENT, 0, limit - 1)]
    return [{"eventId": event_id, **await get(client, event_id)} for event_id in ids[:limit]]
