"""Step 5: one completion event on the notification stream, at most once per job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..dal import notifications


def notify(job: dict[str, Any], result_url: str) -> dict[str, str]:
    event = {
        "type": "job.done",
        "jobId": job["jobId"],
        "requesterId": job["requesterId"],
        "callbackUrl": job.get("callbackUrl"),
        "resultUrl": result_url,
    }
    entry = notifications.append_once(job["jobId"], event)
    return {"eventId": entry, "notifiedAt": datetime.now(UTC).isoformat()}
