"""A job's history, exported for ``docflow replay-check`` (an operator's tool: it shows the
workflow's every call, so with verified callers it is an admin's)."""

from __future__ import annotations

from docflow_shared.identity import Caller
from docflow_shared.ids import require_valid_job_id
from docflow_shared.workflow_history import JobHistory

from ..dal.workflows import job_history


def export_history(job_id: str, caller: Caller | None = None) -> JobHistory:
    """The job's root promise and every durable call under it (404 for an unknown job)."""
    if caller is not None:
        caller.may_operate("exporting a job's history")
    return job_history(require_valid_job_id(job_id))
