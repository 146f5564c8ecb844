"""The blob store (S3; the moto server locally): documents, extracted text, results."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from docflow_shared.errors import InvalidDocument
from docflow_shared.settings import WorkerSettings


@lru_cache(maxsize=1)
def _client() -> Any:
    settings = WorkerSettings.current()
    return boto3.client(
        "s3",
        endpoint_url=settings.aws_endpoint_url,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )


def s3_url(key: str) -> str:
    return f"s3://{WorkerSettings.current().bucket}/{key}"


def put_bytes(key: str, body: bytes, content_type: str) -> str:
    """Write (or overwrite with the same bytes: every step is idempotent) one object."""
    _client().put_object(
        Bucket=WorkerSettings.current().bucket, Key=key, Body=body, ContentType=content_type
    )
    return s3_url(key)


def put_json(key: str, value: Any) -> str:
    body = json.dumps(value, ensure_ascii=False, indent=2).encode()
    return put_bytes(key, body, "application/json")


def get_bytes(key: str, bucket: str | None = None, version_id: str | None = None) -> bytes:
    bucket = bucket or WorkerSettings.current().bucket
    version = {"VersionId": version_id} if version_id else {}
    try:
        response = _client().get_object(Bucket=bucket, Key=key, **version)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code in ("NoSuchKey", "NoSuchBucket", "404"):
            raise InvalidDocument("not_found", f"s3://{bucket}/{key} does not exist") from err
        if code in ("AccessDenied", "403", "AllAccessDisabled"):
            raise InvalidDocument("url_refused", f"no access to s3://{bucket}/{key}") from err
        raise
    return bytes(response["Body"].read())


def get_json(key: str) -> Any:
    return json.loads(get_bytes(key))
