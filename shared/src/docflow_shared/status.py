"""How a workflow's durable state reads as a job status."""

from __future__ import annotations

from .models import JobStatusName
from .workflow import ENDINGS

PROMISE_STATE_TO_JOB_STATUS: dict[str, JobStatusName] = {
    "pending": JobStatusName.PROCESSING,
    "resolved": JobStatusName.DONE,
    "rejected": JobStatusName.FAILED,
    "rejected_canceled": JobStatusName.CANCELED,
    "rejected_timedout": JobStatusName.TIMED_OUT,
}


def job_status(
    promise_state: str, *, reason: str | None = None, awaiting_approval: bool = False
) -> JobStatusName:
    """The job status for the root promise's state (a crashed worker is still processing).

    ``reason`` is the rejected workflow's ``JobFailure.reason``: a job the workflow ended on
    purpose (rejected by its reviewer, timed out, canceled) is not a failure.
    """
    try:
        status = PROMISE_STATE_TO_JOB_STATUS[promise_state]
    except KeyError:
        msg = f"unknown promise state {promise_state!r}"
        raise ValueError(msg) from None
    if status is JobStatusName.PROCESSING and awaiting_approval:
        return JobStatusName.AWAITING_APPROVAL
    if status is JobStatusName.FAILED and reason in ENDINGS:
        return JobStatusName(reason)
    return status
