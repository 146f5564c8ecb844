"""Accepting a job: start its workflow once, however often the same job is sent."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from docflow_shared.errors import JobConflict
from docflow_shared.identity import Caller, requester_for
from docflow_shared.ids import workflow_id
from docflow_shared.models import Accepted, JobRequest
from docflow_shared.settings import TriggerSettings
from docflow_shared.workflow import DEADLINE_GRACE

from ..dal import workflows
from .fair_use import admit_start
from .store import JobStore


@dataclass(frozen=True)
class JobStarted:
    accepted: Accepted
    correlation_id: str  # the one the workflow carries: the first request's
    deduplicated: bool  # the workflow existed already: this request started nothing


def start_job(
    job: JobRequest,
    correlation_id: str,
    store: JobStore = workflows,
    caller: Caller | None = None,
    fair_use: bool = False,
) -> JobStarted:
    """Start the job's workflow (or find it started); raise ``JobConflict`` on a reused id,
    ``Forbidden`` when a verified caller asks for it as another requester, and, with
    ``fair_use``, ``TooManyRequests`` when its requester is over a limit."""
    requester_id = requester_for(job.requester_id, caller)
    deadline = timedelta(
        seconds=job.deadline_seconds or TriggerSettings.current().job_timeout_seconds
    )
    lifetime = deadline + DEADLINE_GRACE
    accepted_at = int(time.time() * 1000)
    if fair_use:
        ends_by = accepted_at + int(lifetime.total_seconds() * 1000)
        admit_start(job.job_id, requester_id, ends_by, store)
    sent = job.as_workflow_input(requester_id)
    trace = {"correlationId": correlation_id, "acceptedAt": accepted_at}
    started = store.start_workflow(workflow_id(job.job_id), sent, trace, lifetime)
    if started.job != sent:
        msg = f"job {job.job_id} already exists with a different request; use a new jobId"
        raise JobConflict(msg)
    first = started.trace or {}
    return JobStarted(
        accepted=Accepted(job_id=job.job_id, status_url=f"/status/{job.job_id}"),
        correlation_id=first.get("correlationId") or correlation_id,
        deduplicated=first != trace,
    )
