"""A job's status: its state and steps from Resonate (the root promise and its children), with
the details only the workers' progress record has (attempts, workers, whether one is alive)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from docflow_shared.identity import Caller
from docflow_shared.ids import job_id_of, require_valid_job_id, workflow_id
from docflow_shared.models import (
    JobList,
    JobRun,
    JobStatus,
    JobStatusName,
    StepName,
    StepStateName,
    StepStatus,
)
from docflow_shared.progress import JobProgress
from docflow_shared.resonate_http import PromiseRecord
from docflow_shared.settings import StatusSettings
from docflow_shared.workflow import CORRELATION_TAG
from docflow_shared.workflow_records import (
    WorkflowRecords,
    failure_of,
    requester_of,
    version_of,
)

from ..dal.workflows import job_progress, job_roots, live_worker_versions, workflow_records

#: How many jobs ``GET /jobs`` looks through for the most recent ones (newest first).
SCAN_LIMIT = 1000

STEP_STATE = {
    "pending": StepStateName.RUNNING,
    "resolved": StepStateName.DONE,
    "rejected": StepStateName.FAILED,
    "rejected_canceled": StepStateName.FAILED,
    "rejected_timedout": StepStateName.FAILED,
}
#: The root promise state a job of that status has (statuses missing here: any rejected one).
ROOT_STATE = {
    JobStatusName.PROCESSING: "pending",
    JobStatusName.AWAITING_APPROVAL: "pending",
    JobStatusName.DONE: "resolved",
}


def get_job_status(job_id: str, caller: Caller | None = None) -> JobStatus:
    """The job's status; 404 for an unknown job, or (to a verified caller) another's."""
    records = workflow_records(workflow_id(require_valid_job_id(job_id)))
    if caller is not None:  # a reviewer reads the jobs it decides on
        caller.may_see(job_id, requester_of(records.root), reviewing=True)
    return describe(job_id, records, job_progress(job_id), live_worker_versions)


def list_jobs(status: JobStatusName | None, limit: int, caller: Caller | None = None) -> JobList:
    """The ``limit`` most recent jobs (of ``status``, if given), newest first; a verified
    caller's own only (an admin's or a reviewer's: all)."""
    roots = job_roots(ROOT_STATE.get(status) if status else None, SCAN_LIMIT)
    if caller is not None and not (caller.is_admin or caller.is_reviewer):
        roots = [root for root in roots if requester_of(root) == caller.subject]
    jobs: list[JobStatus] = []
    for root in sorted(roots, key=lambda r: r.created_at, reverse=True):
        job_id = job_id_of(root.id)
        if job_id is None:
            continue
        # A settled job's status shows on its root alone: read its steps only if it matches.
        if status and root.state != "pending" and _settled_status(root) is not status:
            continue
        job = get_job_status(job_id)
        if status is None or job.status is status:
            jobs.append(job)
        if len(jobs) == limit:
            break
    return JobList(jobs=jobs)


def describe(
    job_id: str,
    records: WorkflowRecords,
    progress: JobProgress | None,
    live_versions: Callable[[], set[int] | None] = lambda: None,
) -> JobStatus:
    """The job's status from its records, the workers' progress record and (read only for a
    job that waits for a worker) the workflow versions live workers run."""
    root = records.root
    settled = root.state != "pending"
    started = records.steps + [None] * (len(records.step_names) - len(records.steps))
    steps = [
        _step(name, child, settled, progress)
        for name, child in zip(records.step_names, started, strict=True)
    ]
    if records.page_batches:
        extract = records.step_names.index(StepName.EXTRACT)
        steps[extract] = _extract(steps[extract], records.page_batches, settled)
    status = records.status
    # Between the last step's checkpoint and the workflow's own, the job is still finishing it.
    current = next((s.name for s in steps if s.state is not StepStateName.DONE), steps[-1].name)
    return JobStatus(
        job_id=job_id,
        status=status,
        step=current if not settled else _failed_step(steps),
        steps=steps,
        result=_result(records, status),
        error=records.error,
        redrivable=records.awaiting_redrive is not None,
        runs=_runs(records, _failed_step(steps)),
        audit=records.audit,
        created_at=_time(root.created_at),
        correlation_id=root.tags.get(CORRELATION_TAG),
        workflow_version=version_of(root),
        waiting_for_worker_since=(waiting := _waiting_since(records, status, progress)),
        waiting_reason=_waiting_reason(version_of(root), live_versions()) if waiting else None,
    )


def _step(
    name: StepName, child: PromiseRecord | None, settled: bool, progress: JobProgress | None
) -> StepStatus:
    done_by = progress.steps.get(name) if progress else None
    return StepStatus(
        name=name,
        state=_step_state(child, settled),
        started_at=_time(child.created_at) if child else None,
        ended_at=_time(child.settled_at) if child else None,
        attempts=done_by.attempts if done_by else (0 if progress and not child else None),
        worker=done_by.worker if done_by else None,
    )


def _extract(step: StepStatus, batches: list[PromiseRecord], settled: bool) -> StepStatus:
    """extract begins with its page batches, before its own promise exists."""
    first = _time(min(b.created_at for b in batches))
    if step.state is not StepStateName.PENDING:
        return step.model_copy(update={"started_at": first})
    failed = settled or any(b.state.startswith("rejected") for b in batches)
    state = StepStateName.FAILED if failed else StepStateName.RUNNING
    return step.model_copy(update={"state": state, "started_at": first})


def _runs(records: WorkflowRecords, failed_step: StepName | None) -> list[JobRun]:
    """The first run, and one more for each redrive; each failed one with where and why."""
    runs = [JobRun(run=1, started_at=_time(records.root.created_at))]
    for wait in records.redrive_waits:
        runs[-1] = runs[-1].model_copy(update={
            "failed_step": records.failed_step(wait), "failed_at": _time(wait.wait.created_at),
            "error": failure_of(wait.failed)})  # fmt: skip
        if wait.redriven:
            runs.append(JobRun(run=len(runs) + 1, started_at=_time(wait.wait.settled_at)))
    last = runs[-1]
    if last.failed_step is None and records.root.state.startswith("rejected") and failed_step:
        ended = _time(records.root.settled_at)
        update = {"failed_step": failed_step, "error": records.error, "failed_at": ended}
        runs[-1] = last.model_copy(update=update)
    return runs


def _waiting_since(
    records: WorkflowRecords, status: JobStatusName, progress: JobProgress | None
) -> datetime | None:
    """When the job was last in a worker's hands (or accepted), if that is too long ago.

    Only a job that needs a worker now can wait for one: not one that waits for its reviewer,
    nor one that has ended. Without the progress record, nothing can be said.
    """
    if status is not JobStatusName.PROCESSING or progress is None:
        return None
    signs = [records.root.created_at, progress.seen_at_ms or 0]
    if records.approval is not None and records.approval.settled_at:
        signs.append(records.approval.settled_at)  # the decision handed it back to the workers
    last_seen = max(signs)
    if time.time() * 1000 - last_seen < StatusSettings.current().stuck_after_seconds * 1000:
        return None
    return _time(last_seen)


def _waiting_reason(version: int, live_versions: set[int] | None) -> str | None:
    """Why no worker has the job, when the workers' liveness records say (None: they cannot
    be read)."""
    if live_versions is None:
        return None
    if version not in live_versions:
        return f"no live worker has workflow version {version}"
    return f"its worker stopped; a live worker with workflow version {version} resumes it"


def _settled_status(root: PromiseRecord) -> JobStatusName:
    return WorkflowRecords(root, [], None, []).status


def _result(records: WorkflowRecords, status: JobStatusName) -> dict[str, Any] | None:
    """The result when done; while awaiting approval, the analysis the reviewer decides on."""
    if status is JobStatusName.DONE:
        return _json_object(records.root)
    analysis = records.step_value(StepName.ANALYZE)
    if status is JobStatusName.AWAITING_APPROVAL and isinstance(analysis, dict):
        return {"analysis": analysis}
    return None


def _json_object(promise: PromiseRecord) -> dict[str, Any] | None:
    data = promise.value
    return data if isinstance(data, dict) else None


def _step_state(child: PromiseRecord | None, workflow_settled: bool) -> StepStateName:
    if child is None:
        return StepStateName.PENDING
    if child.state == "pending" and workflow_settled:
        return StepStateName.FAILED  # the workflow ended (timed out, canceled) while it ran
    return STEP_STATE[child.state]


def _failed_step(steps: list[StepStatus]) -> StepName | None:
    return next((s.name for s in steps if s.state is StepStateName.FAILED), None)


def _time(epoch_ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC) if epoch_ms else None
