"""How a job ends without a result: rejected by its reviewer, timed out, or canceled.

The requester is told first (one event on the notification stream, at most once per job, like
the notify step's), then ``JobEnded`` ends the workflow: its root promise is rejected with the
``JobFailure`` whose reason is that status, which the status Lambda reports.
"""

from __future__ import annotations

from typing import NoReturn

from docflow_shared.errors import JobEnded, ReasonedError

from .dal import notifications
from .domain import Job
from .observability import job_finished, logger


def end_job(job: Job, status: str, message: str) -> NoReturn:
    notifications.append_once(job, f"job.{status}", reason=status, message=message)
    job_finished(job, status)
    raise JobEnded(status, message)


def announce_failure(job: Job, error: ReasonedError) -> None:
    """Tell the requester their job failed (``job.failed``, at most once per run: a redriven
    job may fail again, or finish after all).

    Best effort: the job fails with its reason whether or not the event could be written.
    """
    try:
        notifications.append_once(job, "job.failed", per_run=True, reason=error.reason,
                                  message=error.message, run=job.run)  # fmt: skip
    except Exception:
        logger.exception("could not announce the failure", extra={"reason": error.reason})
