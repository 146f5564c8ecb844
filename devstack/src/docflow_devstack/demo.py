"""``docflow-demo``: the seed demo against the running stack (``make up`` first).

Generates a sample invoice PDF, uploads it to the local blob store, submits it through the
local API gateway, and follows ``GET /status`` until the job ends.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid

import httpx
from docflow_cli.cli import Api, api_headers
from docflow_samples import invoice_pdf, scanned_invoice_pdf

from .local_client import put_document, run_cli
from .stack import SAMPLE_KEY


def main(argv: list[str] | None = None) -> None:
    run_cli(run, argv)


def run(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-demo", description=__doc__)
    parser.add_argument("--scanned", action="store_true", help="use the image-only (OCR) sample")
    parser.add_argument("--job-id", default=f"demo-{uuid.uuid4().hex[:6]}")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)
    base, headers = Api.at(None).base_url, api_headers()

    sample = scanned_invoice_pdf() if args.scanned else invoice_pdf()
    url = put_document(SAMPLE_KEY.replace("invoice.pdf", "invoice-scan.pdf") if args.scanned
                       else SAMPLE_KEY, sample)  # fmt: skip
    job = {"jobId": args.job_id, "documentUrl": url, "requesterId": "demo", "type": "auto"}
    print(f"POST {base}/process-document {json.dumps(job)}")
    answer = httpx.post(f"{base}/process-document", json=job, headers=headers, timeout=10)
    print(f"  -> {answer.status_code} {answer.text}")
    if answer.status_code != 202:
        sys.exit(1)

    deadline, last = time.monotonic() + args.timeout, None
    while time.monotonic() < deadline:
        status = httpx.get(f"{base}/status/{args.job_id}", headers=headers, timeout=10).json()
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
