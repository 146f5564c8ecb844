"""How a job ends without a result: rejected by its reviewer, timed out, or canceled.

The requester is told first (one event on the notification stream, at most once per job, like
the notify step's), then ``JobEnded`` ends the workflow: its root promise is rejected with
"<status>: <message>", which the status Lambda reports as that status.
"""

from __future__ import annotations

from typing import Any, NoReturn

from docflow_shared.errors import JobEnded

from .dal import notifications
from .observability import job_finished


def end_job(job: dict[str, Any], status: str, message: str) -> NoReturn:
    notifications.append_once(job, f"job.{status}", reason=status, message=message)
    job_finished(job, status)
    raise JobEnded(status, message)
