"""Fair use: one requester cannot fill the queue for everyone. Per requester, at most
``DOCFLOW_MAX_JOBS_IN_FLIGHT`` jobs that have not ended, and starts at
``DOCFLOW_STARTS_PER_MINUTE`` after a burst of ``DOCFLOW_START_BURST``; over either, 429 with
``Retry-After``. The HTTP front door only: a queue's messages come from a trusted sender, and a
refused message would only come back (docs/deploy.md)."""

from __future__ import annotations

import math
from typing import Protocol

from docflow_shared.errors import JobNotFound, TooManyRequests
from docflow_shared.ids import workflow_id
from docflow_shared.settings import TriggerSettings

from ..dal import redis_store
from .store import JobStore

#: When to try again with too many jobs in flight: nobody knows when one ends.
IN_FLIGHT_RETRY_AFTER_SECONDS = 30


class StartRate(Protocol):
    def start_slot_wait_ms(self, requester_id: str, per_minute: int, burst: int) -> int | None: ...


def admit_start(
    job_id: str, requester_id: str, store: JobStore, rate: StartRate = redis_store
) -> None:
    """Admit one more start by ``requester_id`` or raise ``TooManyRequests``. A job that exists
    already is admitted whatever the count: sending it again starts nothing."""
    settings = TriggerSettings.current()
    if settings.starts_per_minute:
        wait_ms = rate.start_slot_wait_ms(
            requester_id, settings.starts_per_minute, settings.start_burst
        )
        if wait_ms:
            msg = (f"{requester_id} is starting jobs faster than {settings.starts_per_minute} "
                   "a minute; slow down")  # fmt: skip
            raise TooManyRequests(msg, math.ceil(wait_ms / 1000))
    limit = settings.max_jobs_in_flight
    if limit and store.count_in_flight(requester_id, limit) >= limit and not _exists(store, job_id):
        msg = (f"{requester_id} has {limit} jobs in flight, the most allowed; start more when "
               "some have ended")  # fmt: skip
        raise TooManyRequests(msg, IN_FLIGHT_RETRY_AFTER_SECONDS)


def _exists(store: JobStore, job_id: str) -> bool:
    try:
        store.workflow_records(workflow_id(job_id))
    except JobNotFound:
        return False
    return True
