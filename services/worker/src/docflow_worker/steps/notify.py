"""Step 5: one completion event on the notification stream, at most once per job."""

from __future__ import annotations

from datetime import UTC, datetime

from ..dal import notifications
from ..domain import Job, Notified
from ..observability import job_finished


def notify(job: Job, result_url: str) -> Notified:
    entry = notifications.append_once(job, "job.done", resultUrl=result_url)
    job_finished(job, "done")
    return Notified(event_id=entry, notified_at=datetime.now(UTC).isoformat())
