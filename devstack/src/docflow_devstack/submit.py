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

import httpx

from .local_client import aws_client, gateway, gateway_headers, put_document, run_cli
from .stack import Ports, child_environment


def main(argv: list[str] | None = None) -> None:
    run_cli(run, argv)


def run(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-submit", description=__doc__)
    parser.add_argument("document", help="an http(s):// or s3:// URL, or a local file")
    parser.add_argument("--job-id", default=f"job-{uuid.uuid4().hex[:8]}")
    parser.add_argument("--requester", default=os.environ.get("USER", "local"))
    parser.add_argument("--type", default="auto")
    parser.add_argument("--via", choices=["http", "sqs"], default="http")
    args = parser.parse_args(argv)

    local = Path(args.document)
    is_file = "://" not in args.document and local.is_file()
    key = f"uploads/{uuid.uuid4().hex[:8]}-{local.name}"
    url = put_document(key, local.read_bytes()) if is_file else args.document
    job = {"jobId": args.job_id, "documentUrl": url, "requesterId": args.requester,
           "type": args.type}  # fmt: skip
    ports = Ports()
    if args.via == "sqs":
        queue_url = child_environment(ports)["DOCFLOW_QUEUE_URL"]
        aws_client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(job))
        print(f"queued {args.job_id} on {queue_url}")
    else:
        answer = httpx.post(f"{gateway()}/process-document", json=job, headers=gateway_headers(),
                            timeout=10)  # fmt: skip
        print(f"{answer.status_code} {answer.text}")
        if answer.status_code != 202:
            sys.exit(1)
    print(f"status: curl http://127.0.0.1:{ports.gateway}/status/{args.job_id}")


if __name__ == "__main__":
    main()
