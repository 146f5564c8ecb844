"""The pictures of a job's pages, in the workers' blob store (S3). Only ``GET
/jobs/{jobId}/pages/{page}`` needs boto3, so it is imported on first use: no other route's cold
start pays for it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from docflow_shared.settings import StatusSettings
from docflow_shared.workflow import page_picture_key


@lru_cache(maxsize=1)
def _client() -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3})
    return boto3.client("s3", endpoint_url=StatusSettings.current().aws_endpoint_url, config=config)


def page_picture(job_id: str, page: int) -> bytes | None:
    """The JPEG of the job's page; None if there is none (no bucket configured, the page was
    not read yet, or it has no picture)."""
    bucket = StatusSettings.current().bucket
    if bucket is None:
        return None
    from botocore.exceptions import ClientError

    try:
        answer = _client().get_object(Bucket=bucket, Key=page_picture_key(job_id, page))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return bytes(answer["Body"].read())
