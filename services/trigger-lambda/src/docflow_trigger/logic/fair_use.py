"""Fair use: one requester cannot fill the queue for everyone. Per requester, at most
``DOCFLOW_MAX_JOBS_IN_FLIGHT`` jobs that have not ended, and starts at
``DOCFLOW_STARTS_PER_MINUTE`` after a burst of ``DOCFLOW_START_BURST``; over either, 429 with
``Retry-After``. The HTTP front door only: a queue's messages come from a trusted sender, and a
refused message would only come back (docs/deploy.md).

Both are counted in Redis, in one round trip per start (``redis_store.admit``). The jobs in
flight there are those the trigger started, until their deadline: a job that ended sooner is
still counted. So a requester found at its limit is checked against Resonate, the truth (its
pending jobs, by their ``docflow:requester`` tag), and the count set right before it is refused:
one search per limit's worth of starts, not one per start. Without Redis, the jobs in flight are
counted in Resonate on every start, and the start rate is not limited.
"""

from __future__ import annotations

import math
from typing import Protocol

from docflow_shared.errors import JobNotFound, TooManyRequests
from docflow_shared.ids import workflow_id
from docflow_shared.settings import TriggerSettings

from ..dal import redis_store
from ..dal.redis_store import Admission
from .store import JobStore

#: When to try again with too many jobs in flight: nobody knows when one ends.
IN_FLIGHT_RETRY_AFTER_SECONDS = 30


class Counters(Protocol):
    def admit(self, requester_id: str, job_id: str, *, per_minute: int, burst: int,
              max_in_flight: int, deadline_ms: int) -> Admission | None: ...  # fmt: skip

    def replace_in_flight(self, requester_id: str, deadlines: dict[str, int]) -> None: ...


def admit_start(
    job_id: str,
    requester_id: str,
    deadline_ms: int,
    store: JobStore,
    counters: Counters = redis_store,
) -> None:
    """Admit one more start of ``job_id`` (its deadline: epoch ms) by ``requester_id``, or
    raise ``TooManyRequests``. A job that exists already is admitted whatever the count:
    sending it again starts nothing."""
    settings = TriggerSettings.current()
    limit = settings.max_jobs_in_flight

    def admit() -> Admission | None:
        return counters.admit(requester_id, job_id, per_minute=settings.starts_per_minute,
                              burst=settings.start_burst, max_in_flight=limit,
                              deadline_ms=deadline_ms)  # fmt: skip

    if not (limit or settings.starts_per_minute):
        return
    admission = admit()
    if admission is not None and not admission.wait_ms and not admission.admitted:
        # At the limit by the count: some of those jobs may have ended. Count again from the
        # truth, and ask once more.
        counters.replace_in_flight(requester_id, store.jobs_in_flight(requester_id, limit))
        admission = admit()
    if admission is None:  # no Redis: the jobs in flight from Resonate, the rate unlimited
        over = limit and len(store.jobs_in_flight(requester_id, limit)) >= limit
        admission = Admission(wait_ms=0, in_flight=limit, admitted=not over)
    if admission.wait_ms:
        msg = (f"{requester_id} is starting jobs faster than {settings.starts_per_minute} "
               "a minute; slow down")  # fmt: skip
        raise TooManyRequests(msg, math.ceil(admission.wait_ms / 1000))
    if not admission.admitted and not _exists(store, job_id):
        msg = (f"{requester_id} has {limit} jobs in flight, the most allowed; start more when "
               "some have ended")  # fmt: skip
        raise TooManyRequests(msg, IN_FLIGHT_RETRY_AFTER_SECONDS)


def _exists(store: JobStore, job_id: str) -> bool:
    try:
        store.workflow_records(workflow_id(job_id))
    except JobNotFound:
        return False
    return True
