"""The notification stream (Redis-compatible): one event per finished job, at most once; and
one per failed run of a job that may be redriven (then finish after all)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import redis
from docflow_shared.settings import WorkerSettings
from docflow_shared.workflow import NOTIFICATION_STREAM

from ..domain import Job

# XADD and the job's "notified" marker in one atomic script: a re-run of the notify step
# (after a crash, before its checkpoint) finds the marker and returns the first event's id.
_APPEND_ONCE = """
local existing = redis.call('GET', KEYS[2])
if existing then return existing end
local id = redis.call('XADD', KEYS[1], '*', 'event', ARGV[1])
redis.call('SET', KEYS[2], id)
return id
"""


@lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return redis.Redis.from_url(WorkerSettings.current().redis_url, socket_timeout=10)


def append_once(job: Job, event_type: str, *, per_run: bool = False, **fields: Any) -> str:
    """Append the job's ``event_type`` event unless one was already appended for the job (for
    the job's current run, ``per_run``); the stream entry id. Every event names the job, its
    requester, its callback and its trace."""
    event = {
        "type": event_type,
        "jobId": job.job_id,
        "requesterId": job.requester_id,
        "callbackUrl": str(job.callback_url) if job.callback_url else None,
        "correlationId": job.correlation_id,
        **fields,
    }
    marker = f"docflow:notified:{job.job_id}" + (f":run{job.run}" if per_run else "")
    entry = _client().eval(_APPEND_ONCE, 2, NOTIFICATION_STREAM, marker, json.dumps(event))
    return entry.decode() if isinstance(entry, bytes) else str(entry)
