"""Fuzzing the HTTP API: schemathesis generates requests from the OpenAPI document the running
gateway serves (valid ones and deliberately invalid ones) and checks every answer: never a 5xx,
always a documented status code and content type, always a body matching its schema. 100 cases
in ``make test``, 1 000 in ``make chaos``; each run appends its results to docs/reliability.md.

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
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from docflow_testing.processes import wait_until
from docflow_testing.receiver import Receiver, new_secret
from docflow_testing.stack import FileServer, LocalStack, running_stack
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AnyUrl, TypeAdapter, ValidationError
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from benchmarks.common import table
from tests.reliability.reporting import FULL, report

pytestmark = [pytest.mark.reliability, pytest.mark.xdist_group("reliability-fuzz")]

CASES = 1000 if FULL else 100
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CLASSES = ["2xx", "4xx", "5xx"]  # the answers counted (no route answers 1xx or 3xx)
BUCKET = "docflow-artifacts"  # the stack's default
SECRET = new_secret()
ANY_URL = TypeAdapter(AnyUrl)  # the parser behind the request model's URL fields
# Where each URL field of a job points once on loopback; the request model takes each field by
# its wire name and by its Python name.
URL_FIELDS = {
    "documentUrl": "document",
    "document_url": "document",
    "callbackUrl": "callback",
    "callback_url": "callback",
}


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "fuzz-stack", DOCFLOW_WEBHOOK_SECRET=SECRET)


@pytest.fixture(scope="module")
def files() -> Iterator[FileServer]:
    server = FileServer()
    server.serve("/tiny.txt", b"Invoice 7\nTotal: 12.00 EUR\n", "text/plain")
    yield server
    server.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    hook = Receiver(SECRET)
    yield hook
    hook.close()


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
    for field, target in URL_FIELDS.items():
        if field in body:
            body[field] = on_loopback(body[field], bases[target])


def seed_jobs(stack: LocalStack, files: FileServer) -> None:
    """A done, a failed and an awaiting-approval job, so the listings the fuzzer reads hold
    every shape of job status, results and errors included."""
    jobs = [
        {"documentUrl": files.url("/tiny.txt")},
        {"documentUrl": files.url("/missing.txt")},
        {"documentUrl": files.url("/tiny.txt"), "requireApproval": True},
    ]
    job_ids = []
    for fields in jobs:
        job_id = f"seed-{uuid.uuid4().hex[:8]}"
        assert stack.submit({"jobId": job_id, "requesterId": "fuzz", **fields}).status_code == 202
        job_ids.append(job_id)

    def settled() -> bool:
        return all(stack.status(job_id)["status"] != "processing" for job_id in job_ids)

    wait_until(settled, 60, "the seed jobs to settle")
    statuses = [stack.status(job_id)["status"] for job_id in job_ids]
    assert statuses == ["done", "failed", "awaiting_approval"]


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


def results_section(
    answers: dict[str, Counter[str]], failures: dict[tuple[str, ...], str]
) -> list[str]:
    found = Counter(key[0] for key in failures)

    def row(label: str, counts: Counter[str], failed: int) -> list[str]:
        return [label, str(counts.total()), *(str(counts[k]) for k in CLASSES), str(failed)]

    rows = [row(label, counts, found[label]) for label, counts in sorted(answers.items())]
    rows.append(row("**total**", sum(answers.values(), Counter()), len(failures)))
    sections = [table(["operation", "cases", *CLASSES, "distinct failures"], rows)]
    for (label, *titles), request in failures.items():
        sections.append(f"- {label}: {'; '.join(titles)}\n\n  ```\n  {request}\n  ```")
    return sections


def test_every_generated_request_gets_a_documented_answer_and_never_a_5xx(
    fuzz_stack: LocalStack, files: FileServer, receiver: Receiver
) -> None:
    seed_jobs(fuzz_stack, files)
    schema = schemathesis.openapi.from_url(f"{fuzz_stack.gateway}/openapi.json", timeout=30)
    cases = st.one_of(
        schema.as_strategy(schemathesis.GenerationMode.POSITIVE),
        schema.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )
    session = requests.Session()
    answers: dict[str, Counter[str]] = defaultdict(Counter)  # status classes, per operation
    # Distinct failures, (operation, titles...), each with the first request that showed it.
    failures: dict[tuple[str, ...], str] = {}

    # Failures are collected, not raised, so one run counts them all (and reports them below).
    @settings(max_examples=CASES, deadline=None, database=None)
    @given(case=cases)
    def call_and_check(case: schemathesis.Case) -> None:
        keep_urls_on_loopback(case.body, files, receiver)
        response = case.call(session=session, timeout=30)
        answers[case.operation.label][f"{response.status_code // 100}xx"] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except* AssertionError as found:
            titles = sorted({getattr(f, "title", str(f)) for f in found.exceptions})
            failures.setdefault((case.operation.label, *titles), reproduction(case))

    started = time.monotonic()
    with session:
        call_and_check()
    elapsed = time.monotonic() - started

    total = sum(counts.total() for counts in answers.values())
    title = f"Fuzzing: {total} schemathesis cases against the gateway ({elapsed:.0f} s)"
    report(title, results_section(answers, failures))
    assert total >= CASES
    assert not failures, "\n".join(f"{key}: {request}" for key, request in failures.items())
