"""Accepting a job: start its workflow once, however often the same job is sent."""

from __future__ import annotations

from datetime import timedelta

from docflow_shared.errors import JobConflict
from docflow_shared.ids import workflow_id
from docflow_shared.models import Accepted, JobRequest
from docflow_shared.settings import get_settings
from docflow_shared.workflow import DEADLINE_GRACE

from ..dal.workflows import start_workflow


def start_job(job: JobRequest) -> Accepted:
    """Start the job's workflow (or find it started); raise ``JobConflict`` on a reused id."""
    sent = job.as_workflow_input()
    deadline = timedelta(seconds=job.deadline_seconds or get_settings().job_timeout_seconds)
    if start_workflow(workflow_id(job.job_id), sent, deadline + DEADLINE_GRACE) != sent:
        msg = f"job {job.job_id} already exists with a different request; use a new jobId"
        raise JobConflict(msg)
    return Accepted(job_id=job.job_id, status_url=f"/status/{job.job_id}")
