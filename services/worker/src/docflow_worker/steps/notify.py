"""Step 5: one completion event on the notification stream, at most once per job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..dal import notifications
from ..observability import job_finished


def notify(job: dict[str, Any], result_url: str) -> dict[str, str]:
    entry = notifications.append_once(job, "job.done", resultUrl=result_url)
    job_finished(job, "done")
    return {"eventId": entry, "notifiedAt": datetime.now(UTC).isoformat()}
