"""``docflow-submit``: send a job to the local stack, over HTTP or through the SQS queue.

uv run docflow-submit s3://docflow-artifacts/samples/invoice.pdf --via sqs
uv run docflow-submit ./scan.png                      (a local file is uploaded first)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

import boto3
import botocore.exceptions
import httpx

from .stack import Ports, child_environment


def aws_client(service: str):  # type: ignore[no-untyped-def]
    env = child_environment(Ports())
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def upload(path: Path) -> str:
    bucket = os.environ.get("DOCFLOW_BUCKET", "docflow-artifacts")
    key = f"uploads/{uuid.uuid4().hex[:8]}-{path.name}"
    aws_client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    return f"s3://{bucket}/{key}"


def main(argv: list[str] | None = None) -> None:
    try:
        run(argv)
    except (httpx.ConnectError, botocore.exceptions.EndpointConnectionError) as err:
        sys.exit(f"the local stack is not answering ({err}); start it with: make up")


def run(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-submit", description=__doc__)
    parser.add_argument("document", help="an http(s):// or s3:// URL, or a local file")
    parser.add_argument("--job-id", default=f"job-{uuid.uuid4().hex[:8]}")
    parser.add_argument("--requester", default=os.environ.get("USER", "local"))
    parser.add_argument("--type", default="auto")
    parser.add_argument("--via", choices=["http", "sqs"], default="http")
    args = parser.parse_args(argv)

    local = Path(args.document)
    url = upload(local) if "://" not in args.document and local.is_file() else args.document
    job = {"jobId": args.job_id, "documentUrl": url, "requesterId": args.requester,
           "type": args.type}  # fmt: skip
    ports = Ports()
    if args.via == "sqs":
        queue_url = child_environment(ports)["DOCFLOW_QUEUE_URL"]
        aws_client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(job))
        print(f"queued {args.job_id} on {queue_url}")
    else:
        headers = {"Content-Type": "application/json"}
        if token := os.environ.get("DOCFLOW_API_TOKEN"):
            headers["Authorization"] = f"Bearer {token}"
        gateway = f"http://127.0.0.1:{ports.gateway}"
        answer = httpx.post(f"{gateway}/process-document", json=job, headers=headers, timeout=10)
        print(f"{answer.status_code} {answer.text}")
        if answer.status_code != 202:
            sys.exit(1)
    print(f"status: curl http://127.0.0.1:{ports.gateway}/status/{args.job_id}")


if __name__ == "__main__":
    main()
