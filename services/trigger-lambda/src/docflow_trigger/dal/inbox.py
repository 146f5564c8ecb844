"""Reading an inbox object's metadata from S3 (only SQS messages from the inbox need boto3, so
it is imported on first use: the HTTP handler's cold start never pays for it)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from docflow_shared.errors import InvalidDocument
from docflow_shared.inbox import InboxObject
from docflow_shared.settings import TriggerSettings
from docflow_shared.url_guard import shown_url


@lru_cache(maxsize=1)
def _client() -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3})
    return boto3.client(
        "s3", endpoint_url=TriggerSettings.current().aws_endpoint_url, config=config
    )


def object_metadata(inbox_object: InboxObject) -> dict[str, str]:
    """The object's user metadata (``x-amz-meta-*``, names lower-case, without the prefix).

    ``InvalidDocument`` if the object is gone (or was overwritten: its new version is a job of
    its own) or not readable; any other failure (S3 unavailable) raises, so the message is
    retried.
    """
    from botocore.exceptions import ClientError

    request: dict[str, Any] = {"Bucket": inbox_object.bucket, "Key": inbox_object.key}
    if inbox_object.version_id:
        request["VersionId"] = inbox_object.version_id
    elif inbox_object.etag:
        request["IfMatch"] = f'"{inbox_object.etag}"'
    shown = shown_url(inbox_object.document_url)
    try:
        head = _client().head_object(**request)
    except ClientError as err:
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            raise InvalidDocument("not_found", f"{shown} no longer exists") from err
        if status == 412:
            msg = f"{shown} was overwritten before it was read (the new object is its own job)"
            raise InvalidDocument("not_found", msg) from err
        if status == 403:
            raise InvalidDocument("url_refused", f"no access to {shown}") from err
        raise
    return {k.lower(): v for k, v in head.get("Metadata", {}).items()}
