"""A job's status, derived from Resonate alone: the root promise and its step children."""

from __future__ import annotations

from docflow_shared.errors import InvalidJob
from docflow_shared.ids import is_valid_job_id, workflow_id
from docflow_shared.models import JobStatus, JobStatusName, StepStateName, StepStatus
from docflow_shared.status import job_status
from docflow_shared.workflow import STEPS
from resonate.types import PromiseRecord

from ..dal.workflows import workflow_promises

STEP_STATE = {
    "pending": StepStateName.RUNNING,
    "resolved": StepStateName.DONE,
    "rejected": StepStateName.FAILED,
    "rejected_canceled": StepStateName.FAILED,
    "rejected_timedout": StepStateName.FAILED,
}


def get_job_status(job_id: str) -> JobStatus:
    if not is_valid_job_id(job_id):
        raise InvalidJob(f"invalid jobId {job_id!r}: expected 1-128 of [A-Za-z0-9._:-]")
    root_id = workflow_id(job_id)
    root, children = workflow_promises(root_id)
    settled = root.state != "pending"
    steps = [
        StepStatus(name=name, state=_step_state(children.get(f"{root_id}:{n}"), settled))
        for n, name in enumerate(STEPS, start=1)
    ]
    status = job_status(root.state)
    current = next((s.name for s in steps if s.state is not StepStateName.DONE), None)
    return JobStatus(
        job_id=job_id,
        status=status,
        step=current if status is JobStatusName.PROCESSING else _failed_step(steps),
        steps=steps,
        result=root.value.data if status is JobStatusName.DONE else None,
        error=_error(root) if root.state.startswith("rejected") else None,
    )


def _step_state(child: PromiseRecord | None, workflow_settled: bool) -> StepStateName:
    if child is None:
        return StepStateName.PENDING
    if child.state == "pending" and workflow_settled:
        return StepStateName.FAILED  # the workflow ended (timed out, canceled) while it ran
    return STEP_STATE[child.state]


def _failed_step(steps: list[StepStatus]) -> str | None:
    return next((s.name for s in steps if s.state is StepStateName.FAILED), None)


def _error(root: PromiseRecord) -> dict[str, str]:
    """The failure as ``{"reason", "message"}``; the workflow rejects with "<reason>: <message>"."""
    data = root.value.data
    text = data.get("message", "") if isinstance(data, dict) else str(data or "")
    reason, sep, message = text.partition(": ")
    if not sep or " " in reason:
        reason, message = root.state, text or root.state
    return {"reason": reason, "message": message}
