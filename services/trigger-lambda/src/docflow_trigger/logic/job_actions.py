"""A reviewer's decision, a cancel and a redrive: all are writes to the job's own promises.

The workflow waits for approval on an external promise (``ctx.promise``); resolving it with the
decision resumes the workflow. A step that failed (a bug, an outage that did not pass) waits the
same way for a redrive: resolving that wait runs the failed step again, the steps done before it
staying done. A cancel resolves the job's cancel signal, which the workflow checks before each
step, and also wakes a workflow that is waiting for either.

Each decision's value carries its audit entry (who, when, from which request: ``audit``), and
is announced on the notification stream (``audit.<action>``), so the requester hears of it.
"""

from __future__ import annotations

import time
from typing import Any

from docflow_shared.audit import AUDIT_KEY, audit_entry
from docflow_shared.errors import JobConflict
from docflow_shared.identity import Caller, reviewer_for
from docflow_shared.ids import job_id_of, require_valid_job_id, workflow_id
from docflow_shared.models import ApprovalDecision, JobActionAccepted, JobStatusName
from docflow_shared.workflow import CORRELATION_TAG, REDRIVEN, cancel_signal_id
from docflow_shared.workflow_records import WorkflowRecords, job_of, requester_of

from ..dal import redis_store, workflows
from .store import JobStore


def decide(
    job_id: str,
    decision: ApprovalDecision,
    store: JobStore = workflows,
    caller: Caller | None = None,
    correlation_id: str = "",
) -> JobActionAccepted:
    """Settle the job's pending approval with ``decision``; 409 unless it is waiting for one.
    A verified caller decides as a reviewer, in its own name, on another's job."""
    records = _live_job(job_id, "approve", store, caller, reviewing=True)
    reviewer = reviewer_for(job_id, requester_of(records.root), decision.reviewer, caller)
    approval = records.approval
    if approval is None:
        msg = f"job {job_id} is not waiting for approval: it needs none, or has not got there yet"
        raise JobConflict(msg)
    if approval.state != "pending":
        raise JobConflict(f"job {job_id} is no longer waiting for approval ({approval.state})")
    action = "approved" if decision.approved else "rejected"
    entry = audit_entry(action, reviewer, caller is not None, correlation_id, decision.comment)
    value = decision.model_dump(mode="json", by_alias=True) | {"reviewer": reviewer,
                                                               AUDIT_KEY: entry}  # fmt: skip
    if store.resolve(approval.id, value).value != value:
        raise JobConflict(f"job {job_id} was decided by another request first")
    return _accepted(records, approval.id, entry)


def cancel(
    job_id: str, store: JobStore = workflows, caller: Caller | None = None, correlation_id: str = ""
) -> JobActionAccepted:
    """Ask the job to end ``canceled`` at its next step boundary (or now, if it is waiting).
    Asked again, it stays asked once: the first request's audit entry stands."""
    records = _live_job(job_id, "cancel", store, caller)
    entry = audit_entry("cancel_requested", _name(caller), caller is not None, correlation_id)
    signal_id = cancel_signal_id(job_id)
    value = {"canceled": True, AUDIT_KEY: entry}
    signal = store.raise_signal(signal_id, records.root.timeout_at, value)
    waiting = records.awaiting_redrive
    for wait in (records.approval, waiting.wait if waiting else None):
        if wait is not None and wait.state == "pending":
            store.resolve(wait.id, {"canceled": True})  # wake it: it ends at once
    first = signal.value.get(AUDIT_KEY) if isinstance(signal.value, dict) else None
    return _accepted(records, signal_id, first or entry)


def redrive(
    job_id: str, store: JobStore = workflows, caller: Caller | None = None, correlation_id: str = ""
) -> JobActionAccepted:
    """Run a failed job again from its failed step (once a fix is deployed); 409 unless it
    failed in a way a new run can mend and its deadline has not passed."""
    records = _records(job_id, store, caller)
    waiting = records.awaiting_redrive
    if waiting is None:
        if records.status is not JobStatusName.FAILED:
            msg = f"job {job_id} is {records.status}: only a failed job can be redriven"
            raise JobConflict(msg)
        reason = records.error.reason if records.error else "failed"
        msg = (f"job {job_id} failed for good ({reason}): its document can never be processed, "
               "or its deadline passed; submit it again")  # fmt: skip
        raise JobConflict(msg)
    entry = audit_entry("redriven", _name(caller), caller is not None, correlation_id)
    value = {REDRIVEN: True, "requestedAt": int(time.time() * 1000), AUDIT_KEY: entry}
    if store.resolve(waiting.wait.id, value).value != value:
        raise JobConflict(f"job {job_id} was redriven, or canceled, by another request first")
    return _accepted(records, waiting.wait.id, entry)


def _name(caller: Caller | None) -> str | None:
    """Who a cancel or redrive is recorded under: only a verified caller has a name."""
    return caller.subject if caller is not None else None


def _accepted(records: WorkflowRecords, decided: str, entry: dict[str, Any]) -> JobActionAccepted:
    """Announce the decision written to the promise ``decided`` on the notification stream
    (once per promise: a repeated cancel announces nothing new), and say it was accepted."""
    job = job_of(records.root)
    job_id = str(job.get("jobId") or job_id_of(records.root.id))
    event = {"type": f"audit.{entry['action']}", "jobId": job_id,
             "requesterId": job.get("requesterId"), "callbackUrl": job.get("callbackUrl"),
             "correlationId": records.root.tags.get(CORRELATION_TAG), AUDIT_KEY: entry}  # fmt: skip
    redis_store.append_audit_event(f"docflow:audited:{decided}", event)
    return JobActionAccepted(job_id=job_id, action=entry["action"], status_url=f"/status/{job_id}")


def _records(
    job_id: str, store: JobStore, caller: Caller | None, reviewing: bool = False
) -> WorkflowRecords:
    """The job's records; 404 for a job that is unknown, or another requester's."""
    records = store.workflow_records(workflow_id(require_valid_job_id(job_id)))
    if caller is not None:
        caller.may_see(job_id, requester_of(records.root), reviewing)
    return records


def _live_job(
    job_id: str, verb: str, store: JobStore, caller: Caller | None = None, reviewing: bool = False
) -> WorkflowRecords:
    """The job's records, if it has not ended (404 unknown, 409 ended)."""
    records = _records(job_id, store, caller, reviewing)
    if records.root.state != "pending":
        raise JobConflict(f"cannot {verb} job {job_id}: it has already ended ({records.status})")
    return records
