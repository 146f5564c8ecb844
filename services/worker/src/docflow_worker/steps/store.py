"""Step 4: the result document, ``s3://<bucket>/jobs/<jobId>/result.json``."""

from __future__ import annotations

from docflow_shared.models import Analysis
from docflow_shared.workflow import blob_prefix

from ..dal import blobs
from ..domain import Document, Job


def store(job: Job, document: Document, analysis: Analysis) -> str:
    result = {"jobId": job.job_id, "requesterId": job.requester_id,
              "document": document.model_dump(mode="json"),
              "analysis": analysis.model_dump(mode="json", exclude_none=True)}  # fmt: skip
    return blobs.put_json(blob_prefix(job.job_id) + "result.json", result)
