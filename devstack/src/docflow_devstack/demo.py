"""``docflow-demo``: the seed demo against the running stack (``make up`` first).

Generates a sample invoice PDF, uploads it to the local blob store, submits it through the
local API gateway, and follows ``GET /status`` until the job ends.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid

import boto3
import botocore.exceptions
import httpx

from .samples import invoice_pdf, scanned_invoice_pdf
from .stack import SAMPLE_KEY, Ports, child_environment


def upload_sample(name: str, data: bytes) -> str:
    env = child_environment(Ports())
    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    bucket, _, prefix = SAMPLE_KEY.partition("/")
    key = f"{prefix.rsplit('/', 1)[0]}/{name}"
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/pdf")
    return f"s3://{bucket}/{key}"


def main(argv: list[str] | None = None) -> None:
    try:
        run(argv)
    except (httpx.ConnectError, botocore.exceptions.EndpointConnectionError) as err:
        sys.exit(f"the local stack is not answering ({err}); start it with: make up")


def run(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-demo", description=__doc__)
    parser.add_argument("--scanned", action="store_true", help="use the image-only (OCR) sample")
    parser.add_argument("--job-id", default=f"demo-{uuid.uuid4().hex[:6]}")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)
    gateway = f"http://127.0.0.1:{Ports().gateway}"
    headers = {"Content-Type": "application/json"}
    if token := os.environ.get("DOCFLOW_API_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"

    sample = scanned_invoice_pdf() if args.scanned else invoice_pdf()
    url = upload_sample("invoice-scan.pdf" if args.scanned else "invoice.pdf", sample)
    job = {"jobId": args.job_id, "documentUrl": url, "requesterId": "demo", "type": "auto"}
    print(f"POST {gateway}/process-document {json.dumps(job)}")
    answer = httpx.post(f"{gateway}/process-document", json=job, headers=headers, timeout=10)
    print(f"  -> {answer.status_code} {answer.text}")
    if answer.status_code != 202:
        sys.exit(1)

    deadline, last = time.monotonic() + args.timeout, None
    while time.monotonic() < deadline:
        status = httpx.get(f"{gateway}/status/{args.job_id}", headers=headers, timeout=10).json()
        progress = (status["status"], status["step"])
        if progress != last:
            steps = " ".join(f"{s['name']}:{s['state']}" for s in status["steps"])
            print(f"  {status['status']:<11} {steps}")
            last = progress
        if status["status"] != "processing":
            print(json.dumps(status, indent=2))
            sys.exit(0 if status["status"] == "done" else 1)
        time.sleep(0.5)
    print(f"the job did not finish within {args.timeout:g} s")
    sys.exit(1)


if __name__ == "__main__":
    main()
