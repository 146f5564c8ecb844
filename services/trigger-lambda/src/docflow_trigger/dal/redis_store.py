"""What the trigger keeps in Redis (REDIS_URL): the start-rate counters of fair use, and the
decisions' audit events it appends to the notification stream. Without REDIS_URL, neither."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from docflow_shared import notification_stream
from docflow_shared.resp import RedisError, Resp
from docflow_shared.settings import TriggerSettings

from ..observability import logger

# GCRA (the generic cell rate algorithm), atomically: one key per requester holds the moment
# its next start is due (its "theoretical arrival time"). A start is admitted if that moment is
# at most a burst's worth of intervals ahead; else the answer is how long to wait, in ms. The
# server's clock, so every Lambda agrees.
_TAKE_SLOT = """
local now_s = redis.call('TIME')
local now = tonumber(now_s[1]) * 1000 + math.floor(tonumber(now_s[2]) / 1000)
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local due = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now) + interval
local wait = due - now - burst * interval
if wait > 0 then return wait end
redis.call('SET', KEYS[1], due, 'PX', due - now)
return 0
"""


@lru_cache(maxsize=1)
def _redis() -> Resp | None:
    url = TriggerSettings.current().redis_url
    return Resp(url, timeout=2) if url else None


def start_slot_wait_ms(requester_id: str, per_minute: int, burst: int) -> int | None:
    """Take one of the requester's starts: 0 if admitted, else the ms until one is free; None
    without Redis (no rate limit)."""
    client = _redis()
    if client is None:
        return None
    interval = 60_000 // per_minute
    try:
        wait = client.eval(_TAKE_SLOT, 1, f"docflow:starts:{requester_id}", str(interval),
                           str(burst))  # fmt: skip
    except RedisError as err:
        # Open, not shut: a Redis outage must not stop every requester's jobs.
        logger.warning("start rate unchecked: Redis unavailable", extra={"error": str(err)})
        return None
    return wait if isinstance(wait, int) else 0  # the script answers an integer


def append_audit_event(marker: str, event: dict[str, Any]) -> bool:
    """Append a decision's audit event to the notification stream once (per ``marker``);
    False if it could not be (no Redis configured, or none answering)."""
    client = _redis()
    if client is None:
        return False
    try:
        notification_stream.append_once(client, marker, event)
    except RedisError as err:
        # The decision and its entry are in the job's records (the status shows them) whatever
        # happens here: only the webhook is missed.
        logger.error("audit event not on the stream: Redis unavailable", extra={"error": str(err)})
        return False
    return True
