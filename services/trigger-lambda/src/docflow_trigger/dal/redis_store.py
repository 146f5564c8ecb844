"""What the trigger keeps in Redis (REDIS_URL): fair use's counters (each requester's start rate
and jobs in flight), and the decisions' audit events it appends to the notification stream."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from docflow_shared import notification_stream
from docflow_shared.resp import RedisError, Resp
from docflow_shared.settings import TriggerSettings

from ..observability import logger

# One start's admission, atomically, on the server's clock (so every Lambda agrees):
# - the start rate, by GCRA (the generic cell rate algorithm): the requester's rate key holds
#   the moment its next start is due; a start is admitted if that moment is at most a burst's
#   worth of intervals ahead, else the answer is how long to wait (ms);
# - its jobs in flight, a sorted set of job ids scored by deadline (a job past its deadline has
#   ended): a job already in it is admitted as it is; a new one only below the limit.
# Answers {wait ms, jobs in flight, admitted 1/0}; a refusal takes nothing.
_ADMIT = """
local now_s = redis.call('TIME')
local now = tonumber(now_s[1]) * 1000 + math.floor(tonumber(now_s[2]) / 1000)
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local job, limit, deadline = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local due = nil
if interval > 0 then
  due = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now) + interval
  local wait = due - now - burst * interval
  if wait > 0 then return {wait, 0, 0} end
end
local count = 0
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  count = redis.call('ZCARD', KEYS[2])
  if not redis.call('ZSCORE', KEYS[2], job) then
    if count >= limit then return {0, count, 0} end
    redis.call('ZADD', KEYS[2], deadline, job)
    count = count + 1
    if redis.call('PTTL', KEYS[2]) < deadline - now then
      redis.call('PEXPIREAT', KEYS[2], deadline)
    end
  end
end
if due then redis.call('SET', KEYS[1], due, 'PX', due - now) end
return {0, count, 1}
"""

# The requester's jobs in flight as Resonate has them (the truth), in place of the set.
_REPLACE_IN_FLIGHT = """
redis.call('DEL', KEYS[1])
local last = 0
for i = 1, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
  last = math.max(last, tonumber(ARGV[i + 1]))
end
if last > 0 then redis.call('PEXPIREAT', KEYS[1], last) end
return #ARGV / 2
"""


@dataclass(frozen=True)
class Admission:
    wait_ms: int  # over the start rate: how long until a start is free
    in_flight: int  # the requester's jobs in flight, this one included if admitted
    admitted: bool


@lru_cache(maxsize=1)
def _redis() -> Resp | None:
    url = TriggerSettings.current().redis_url
    return Resp(url, timeout=2) if url else None


def admit(requester_id: str, job_id: str, *, per_minute: int, burst: int, max_in_flight: int,
          deadline_ms: int) -> Admission | None:  # fmt: skip
    """Admit one start (0 for a limit: none); None without Redis, or with none answering
    (then nothing is limited here, rather than everything refused)."""
    client = _redis()
    if client is None:
        return None
    interval = 60_000 // per_minute if per_minute else 0
    keys = (f"docflow:starts:{requester_id}", f"docflow:in-flight:{requester_id}")
    try:
        reply = client.eval(_ADMIT, 2, *keys, str(interval), str(burst), job_id,
                            str(max_in_flight), str(deadline_ms))  # fmt: skip
    except RedisError as err:
        logger.warning("fair use unchecked: Redis unavailable", extra={"error": str(err)})
        return None
    assert isinstance(reply, list)
    wait_ms, in_flight, admitted = reply
    return Admission(int(wait_ms), int(in_flight), admitted == 1)


def replace_in_flight(requester_id: str, deadlines: dict[str, int]) -> None:
    """Set the requester's jobs in flight to ``deadlines`` (job id → deadline, epoch ms)."""
    client = _redis()
    if client is None:
        return
    flat = [str(item) for pair in deadlines.items() for item in pair]
    try:
        client.eval(_REPLACE_IN_FLIGHT, 1, f"docflow:in-flight:{requester_id}", *flat)
    except RedisError as err:
        logger.warning("jobs in flight not recorded", extra={"error": str(err)})


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
