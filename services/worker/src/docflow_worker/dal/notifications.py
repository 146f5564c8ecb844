"""The notification stream (Redis-compatible): one event per finished job, at most once; and
one per failed run of a job that may be redriven (then finish after all)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import redis
from docflow_shared import notification_stream
from docflow_shared.settings import WorkerSettings

from ..domain import Job


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
    return notification_stream.append_once(_client(), marker, event)
