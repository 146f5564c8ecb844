"""Step 4: the result document, ``s3://<bucket>/jobs/<jobId>/result.json``."""

from __future__ import annotations

from typing import Any

from docflow_shared.workflow import blob_prefix

from ..dal import blobs


def store(job: dict[str, Any], document: dict[str, Any], analysis: dict[str, Any]) -> str:
    result = {"jobId": job["jobId"], "requesterId": job["requesterId"], "document": document,
              "analysis": analysis}  # fmt: skip
    return blobs.put_json(blob_prefix(job["jobId"]) + "result.json", result)
