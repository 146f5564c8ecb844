"""What the front doors and the worker agree on about the workflow itself."""

from __future__ import annotations

from .models import StepName

#: The name the worker registers the workflow under and the trigger starts it by.
WORKFLOW_NAME = "process_document"

#: The workflow's ``ctx.run`` steps, in call order: step ``n`` is the root's ``n``-th child.
STEPS: tuple[StepName, ...] = (
    StepName.DOWNLOAD,
    StepName.EXTRACT,
    StepName.ANALYZE,
    StepName.STORE,
    StepName.NOTIFY,
)

#: Redis stream the notify step appends one event per finished job to.
NOTIFICATION_STREAM = "docflow:notifications"


#: Every job's document, text and result live below this key prefix of the blob store.
JOBS_PREFIX = "jobs/"


def blob_prefix(job_id: str) -> str:
    """Where one job's document, text and result live in the blob store."""
    return f"{JOBS_PREFIX}{job_id}/"
