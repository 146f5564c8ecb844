"""What the local helpers (the demo) need to talk to the running local stack."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import boto3
import botocore.exceptions
import httpx

from .stack import Ports, child_environment


def aws_client(service: str) -> Any:
    env = child_environment(Ports())
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def put_document(key: str, data: bytes) -> str:
    """Store ``data`` in the local bucket; its ``s3://`` URL."""
    bucket = os.environ.get("DOCFLOW_BUCKET", "docflow-artifacts")
    aws_client("s3").put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


def run_cli(run: Callable[[list[str] | None], None], argv: list[str] | None) -> None:
    """Run a helper; if the stack is down, say so in one line instead of a traceback."""
    try:
        run(argv)
    except (httpx.ConnectError, botocore.exceptions.EndpointConnectionError) as err:
        sys.exit(f"the local stack is not answering ({err}); start it with: make up")
