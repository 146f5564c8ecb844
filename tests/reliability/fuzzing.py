"""What the fuzzing tests share: keeping generated URLs on this machine, the checks every answer
must pass, and the tally of answers and distinct failures that each run reports.

The network stays on this machine. The URLs in a generated job could name any host, and the
worker would fetch them (its guard refuses private addresses, not public ones) and the notifier
would call them, so before a request is sent every URL the gateway could accept is moved to
loopback: http(s) documents to a local file server, http(s) callbacks to a local receiver, s3
documents to the stack's own bucket (on its local S3). Only the authority changes; path and query
stay as generated. What the gateway would refuse anyway stays as it is, refused unresolved.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import schemathesis
from docflow_testing.processes import wait_until
from docflow_testing.receiver import Receiver
from docflow_testing.stack import FileServer
from pydantic import AnyUrl, TypeAdapter, ValidationError
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from benchmarks.common import table
from tests.reliability.reporting import report

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CLASSES = ["2xx", "4xx", "5xx"]  # the answers counted (no route answers 1xx or 3xx)
BUCKET = "docflow-artifacts"  # the stack's default
ANY_URL = TypeAdapter(AnyUrl)  # the parser behind the request model's URL fields
# Where each URL field of a job points once on loopback; the request model takes each field by
# its wire name and by its Python name.
URL_FIELDS = {
    "documentUrl": "document",
    "document_url": "document",
    "callbackUrl": "callback",
    "callback_url": "callback",
}


def on_loopback(value: object, http_base: str) -> object:
    """``value`` with its authority moved to this machine if the gateway could read it as a URL
    docflow fetches or calls: http(s) to ``http_base``, s3 to the stack's bucket. Anything else is
    returned unchanged: the gateway refuses it, and nothing resolves or fetches it."""
    try:
        url = ANY_URL.validate_python(value)
    except ValidationError:
        return value
    # Without an authority (s3:key) a path need not start with a slash.
    rest = "/" + (url.path or "").lstrip("/") + (f"?{url.query}" if url.query is not None else "")
    if url.scheme in ("http", "https"):
        return http_base + rest
    if url.scheme == "s3":
        return f"s3://{BUCKET}{rest}"
    return value


def keep_urls_on_loopback(body: object, files: FileServer, receiver: Receiver) -> None:
    if not isinstance(body, dict):
        return
    bases = {"document": files.url(""), "callback": receiver.url("")}
    for name, target in URL_FIELDS.items():
        if name in body:
            body[name] = on_loopback(body[name], bases[target])


def seed_jobs(http: httpx.Client, files: FileServer, requester: str) -> list[str]:
    """A done, a failed and an awaiting-approval job of ``requester`` (through ``http``: the
    gateway, with the credentials it needs), so the listings the fuzzer reads hold every shape
    of job status, results and errors included; their ids."""
    jobs = [
        {"documentUrl": files.url("/tiny.txt")},
        {"documentUrl": files.url("/missing.txt")},
        {"documentUrl": files.url("/tiny.txt"), "requireApproval": True},
    ]
    job_ids = []
    for fields in jobs:
        job_id = f"seed-{uuid.uuid4().hex[:8]}"
        job = {"jobId": job_id, "requesterId": requester, **fields}
        assert http.post("/process-document", json=job).status_code == 202
        job_ids.append(job_id)

    def statuses() -> list[str]:
        return [http.get(f"/status/{job_id}").json()["status"] for job_id in job_ids]

    wait_until(lambda: "processing" not in statuses(), 60, "the seed jobs to settle")
    assert statuses() == ["done", "failed", "awaiting_approval"]
    return job_ids


def reproduction(case: schemathesis.Case) -> str:
    """The request as curl, and its body as Python bytes when it is not UTF-8 text (curl's
    rendering of such a body is lossy)."""
    curl = case.as_curl_command()
    if isinstance(case.body, bytes):
        try:
            case.body.decode()
        except UnicodeDecodeError:
            return f"{curl}\n  # the body's bytes: {case.body!r}"
    return curl


@dataclass
class Tally:
    """The answers of one run by operation and class, and its distinct failures, each with the
    first request that showed it. Failures are collected, not raised, so one run counts them
    all (and reports them)."""

    answers: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: dict[tuple[str, ...], str] = field(default_factory=dict)

    def count(self, case: schemathesis.Case, response: schemathesis.Response) -> None:
        self.answers[case.operation.label][f"{response.status_code // 100}xx"] += 1

    def failed(self, case: schemathesis.Case, *titles: str) -> None:
        self.failures.setdefault((case.operation.label, *titles), reproduction(case))

    def check(
        self, case: schemathesis.Case, response: schemathesis.Response, checks: list[object]
    ) -> None:
        try:
            case.validate_response(response, checks=checks)
        except* AssertionError as found:
            self.failed(case, *sorted({getattr(f, "title", str(f)) for f in found.exceptions}))

    @property
    def total(self) -> int:
        return sum(counts.total() for counts in self.answers.values())

    def sections(self) -> list[str]:
        found = Counter(key[0] for key in self.failures)

        def row(label: str, counts: Counter[str], failed: int) -> list[str]:
            return [label, str(counts.total()), *(str(counts[k]) for k in CLASSES), str(failed)]

        rows = [row(label, counts, found[label]) for label, counts in sorted(self.answers.items())]
        rows.append(row("**total**", sum(self.answers.values(), Counter()), len(self.failures)))
        sections = [table(["operation", "cases", *CLASSES, "distinct failures"], rows)]
        for (label, *titles), request in self.failures.items():
            sections.append(f"- {label}: {'; '.join(titles)}\n\n  ```\n  {request}\n  ```")
        return sections

    def run(self, fuzz: Callable[[], None], title: str, minimum: int) -> None:
        """Run ``fuzz`` (a hypothesis test that counts and checks each answer here), report
        the tally under ``title``, and fail on fewer than ``minimum`` cases or any failure."""
        started = time.monotonic()
        fuzz()
        elapsed = time.monotonic() - started
        report(f"{title}: {self.total} schemathesis cases ({elapsed:.0f} s)", self.sections())
        assert self.total >= minimum
        found = "\n".join(f"{key}: {request}" for key, request in self.failures.items())
        assert not self.failures, found
