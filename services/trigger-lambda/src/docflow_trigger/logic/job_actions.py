"""A reviewer's decision and a cancel request: both are writes to the job's own promises.

The workflow waits for approval on an external promise (``ctx.promise``); resolving it with the
decision resumes the workflow. A cancel resolves the job's cancel signal, which the workflow
checks before each step, and also wakes a workflow that is waiting for approval.
"""

from __future__ import annotations

from docflow_shared.errors import JobConflict
from docflow_shared.ids import require_valid_job_id, workflow_id
from docflow_shared.models import ApprovalDecision, JobActionAccepted
from docflow_shared.workflow import cancel_signal_id
from docflow_shared.workflow_records import WorkflowRecords

from ..dal import workflows
from .store import JobStore


def decide(
    job_id: str, decision: ApprovalDecision, store: JobStore = workflows
) -> JobActionAccepted:
    """Settle the job's pending approval with ``decision``; 409 unless it is waiting for one."""
    records = _live_job(job_id, "approve", store)
    approval = records.approval
    if approval is None:
        msg = f"job {job_id} is not waiting for approval: it needs none, or has not got there yet"
        raise JobConflict(msg)
    if approval.state != "pending":
        raise JobConflict(f"job {job_id} is no longer waiting for approval ({approval.state})")
    value = decision.model_dump(mode="json", by_alias=True)
    if store.resolve(approval.id, value).value != value:
        raise JobConflict(f"job {job_id} was decided by another request first")
    action = "approved" if decision.approved else "rejected"
    return JobActionAccepted(job_id=job_id, action=action, status_url=f"/status/{job_id}")


def cancel(job_id: str, store: JobStore = workflows) -> JobActionAccepted:
    """Ask the job to end ``canceled`` at its next step boundary (or now, if it is waiting)."""
    records = _live_job(job_id, "cancel", store)
    store.raise_signal(cancel_signal_id(job_id), records.root.timeout_at, {"canceled": True})
    if records.approval is not None and records.approval.state == "pending":
        store.resolve(records.approval.id, {"canceled": True})  # wake it: it ends at once
    return JobActionAccepted(
        job_id=job_id, action="cancel_requested", status_url=f"/status/{job_id}"
    )


def _live_job(job_id: str, verb: str, store: JobStore) -> WorkflowRecords:
    """The job's records, if it has not ended (404 unknown, 409 ended)."""
    records = store.workflow_records(workflow_id(require_valid_job_id(job_id)))
    if records.root.state != "pending":
        raise JobConflict(f"cannot {verb} job {job_id}: it has already ended ({records.status})")
    return records
