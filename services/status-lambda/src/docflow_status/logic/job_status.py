"""A job's status, derived from Resonate alone: the root promise and its step children."""

from __future__ import annotations

from typing import Any

from docflow_shared.ids import require_valid_job_id, workflow_id
from docflow_shared.models import JobStatus, JobStatusName, StepName, StepStateName, StepStatus
from docflow_shared.workflow_records import WorkflowRecords
from resonate.types import PromiseRecord

from ..dal.workflows import workflow_records

EXTRACT = 1  # extract's place among the steps

STEP_STATE = {
    "pending": StepStateName.RUNNING,
    "resolved": StepStateName.DONE,
    "rejected": StepStateName.FAILED,
    "rejected_canceled": StepStateName.FAILED,
    "rejected_timedout": StepStateName.FAILED,
}


def get_job_status(job_id: str) -> JobStatus:
    records = workflow_records(workflow_id(require_valid_job_id(job_id)))
    root = records.root
    settled = root.state != "pending"
    started = records.steps + [None] * (len(records.step_names) - len(records.steps))
    steps = [
        StepStatus(name=name, state=_step_state(child, settled))
        for name, child in zip(records.step_names, started, strict=True)
    ]
    if started[EXTRACT] is None and records.page_batches:
        # extract starts with its page batches, before its own promise exists.
        failed = settled or any(b.state.startswith("rejected") for b in records.page_batches)
        state = StepStateName.FAILED if failed else StepStateName.RUNNING
        steps[EXTRACT] = StepStatus(name=StepName.EXTRACT, state=state)
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
    )


def _result(records: WorkflowRecords, status: JobStatusName) -> dict[str, Any] | None:
    """The result when done; while awaiting approval, the analysis the reviewer decides on."""
    if status is JobStatusName.DONE:
        data: dict[str, Any] = records.root.value.data
        return data
    if status is JobStatusName.AWAITING_APPROVAL:
        analysis: dict[str, Any] = records.steps[2].value.data  # the analyze step's output
        return {"analysis": analysis}
    return None


def _step_state(child: PromiseRecord | None, workflow_settled: bool) -> StepStateName:
    if child is None:
        return StepStateName.PENDING
    if child.state == "pending" and workflow_settled:
        return StepStateName.FAILED  # the workflow ended (timed out, canceled) while it ran
    return STEP_STATE[child.state]


def _failed_step(steps: list[StepStatus]) -> str | None:
    return next((s.name for s in steps if s.state is StepStateName.FAILED), None)
