"""The two AWS calls the CLI makes, only when the user names the bucket or queue: an upload and
a queue message. boto3 is an optional extra (``docflow-cli[aws]``), imported on first use, with
the standard AWS configuration (credentials, region, ``AWS_ENDPOINT_URL``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class AwsUnavailable(Exception):
    """The upload or message could not be made; ``unreachable``: nothing answered."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def _client(service: str) -> Any:
    try:
        import boto3
    except ImportError as err:
        msg = "uploads and queue messages need boto3: pip install 'docflow-cli[aws]'"
        raise AwsUnavailable(msg) from err
    return boto3.client(service)


def _calling(what: str, call: Any, **request: Any) -> Any:
    import botocore.exceptions

    try:
        return call(**request)
    except botocore.exceptions.EndpointConnectionError as err:
        raise AwsUnavailable(f"nothing answers for {what} ({err})", unreachable=True) from err
    except (botocore.exceptions.ClientError, botocore.exceptions.NoCredentialsError) as err:
        raise AwsUnavailable(f"{what} was refused: {err}") from err


def upload(path: Path, bucket: str, key: str, metadata: dict[str, str] | None = None) -> str:
    """Put ``path`` at ``s3://bucket/key``; the new object's version id, else its ETag."""
    put = _calling(f"the upload to s3://{bucket}/{key}", _client("s3").put_object,
                   Bucket=bucket, Key=key, Body=path.read_bytes(),
                   Metadata=metadata or {})  # fmt: skip
    return str(put.get("VersionId") or put["ETag"].strip('"'))


def send_message(queue_url: str, body: str) -> None:
    _calling(f"the message to {queue_url}", _client("sqs").send_message,
             QueueUrl=queue_url, MessageBody=body)  # fmt: skip
