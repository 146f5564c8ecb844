"""Overload: jobs POSTed as fast as the gateway takes them (2 000 in ``make chaos``, 200 in
``make test``), then the same front door with the Resonate server killed. Each run appends its
results to docs/reliability.md.

What must hold:

- no request is answered 5xx, and every job is accepted (202);
- none is lost: every accepted job ends ``done`` (tiny text documents, served on loopback);
- with the Resonate server down, every POST is answered 503 with ``Retry-After`` within 2 s
  (the front door's Resonate budget, DOCFLOW_RESONATE_TIMEOUT, is 1.5 s of it);
- nothing is half-created: once the server is back, none of the refused jobs exists.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from docflow_testing.stack import FileServer, LocalStack, running_stack

from benchmarks.common import percentile, table
from tests.reliability.reporting import FULL, report

pytestmark = [pytest.mark.reliability, pytest.mark.xdist_group("reliability-overload")]


@dataclass(frozen=True)
class Scale:
    jobs: int
    settle: float  # seconds the accepted jobs may take to finish, after the last is accepted
    outage_requests: int  # POSTs sent, one after another, while the Resonate server is down


SCALE = Scale(2000, 900, 20) if FULL else Scale(200, 180, 5)
IN_FLIGHT = 64  # requests open at once: far more than the gateway's one trigger thread serves
REFUSED_WITHIN = 2.0  # seconds: the bound for a 503 while Resonate is down
AFTER_RESTART_SECONDS = 120  # for one job to finish once the Resonate server is back
DOCUMENT = b"Receipt 42\nTotal: 3.50 EUR\n"


@pytest.fixture(scope="module")
def overload_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "overload-stack")


@pytest.fixture(scope="module")
def document_url() -> Iterator[str]:
    server = FileServer()
    yield server.serve("/receipt.txt", DOCUMENT, "text/plain")
    server.close()


def new_job(url: str, kind: str) -> dict[str, Any]:
    """A job of its own requester: the load of many tenants, so fair use (per requester) is
    checked on every start and never refuses one."""
    job_id = f"{kind}-{uuid.uuid4().hex[:12]}"
    return {"jobId": job_id, "documentUrl": url, "requesterId": f"tenant-{job_id}"}


async def post_all(gateway: str, jobs: list[dict[str, Any]]) -> list[int | None]:
    """POST every job at once, ``IN_FLIGHT`` open at a time: each one's status, None when it
    got no answer at all."""
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    timeout = httpx.Timeout(60, pool=None)  # waiting for a free connection is not the server's
    async with httpx.AsyncClient(base_url=gateway, limits=limits, timeout=timeout) as client:

        async def post(job: dict[str, Any]) -> int | None:
            try:
                return (await client.post("/process-document", json=job)).status_code
            except httpx.HTTPError:
                return None

        return await asyncio.gather(*(post(job) for job in jobs))


async def statuses_of(gateway: str, job_ids: list[str]) -> list[str]:
    """Each job's status (``missing`` for a 404), read IN_FLIGHT at a time."""
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    timeout = httpx.Timeout(60, pool=None)
    async with httpx.AsyncClient(base_url=gateway, limits=limits, timeout=timeout) as client:

        async def status(job_id: str) -> str:
            answer = await client.get(f"/status/{job_id}")
            if answer.status_code == 404:
                return "missing"
            answer.raise_for_status()
            return str(answer.json()["status"])

        return await asyncio.gather(*(status(job_id) for job_id in job_ids))


def wait_none_processing(stack: LocalStack, timeout: float) -> None:
    """Until no job is processing, or ``timeout``: what is not done then counts as lost."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = httpx.get(f"{stack.gateway}/jobs?status=processing&limit=1", timeout=60)
        if listed.status_code == 200 and not listed.json()["jobs"]:
            return
        time.sleep(1)


def tally(counts: Counter[Any]) -> str:
    return ", ".join(f"{key}: {n}" for key, n in sorted(counts.items(), key=str)) or "none"


@dataclass(frozen=True)
class Refusal:
    job_id: str
    status: int
    retry_after: str | None
    seconds: float


def post_during_outage(stack: LocalStack, url: str) -> list[Refusal]:
    """One POST after another (the gateway runs one trigger call at a time: concurrent ones
    would measure its queue, not the answer), each timed."""
    refusals = []
    for _ in range(SCALE.outage_requests):
        job = new_job(url, "outage")
        started = time.monotonic()
        answer = stack.submit(job)
        elapsed = time.monotonic() - started
        refusals.append(
            Refusal(job["jobId"], answer.status_code, answer.headers.get("Retry-After"), elapsed)
        )
    return refusals


def test_a_flood_of_jobs_is_accepted_and_done_and_an_outage_refuses_cleanly(
    overload_stack: LocalStack, document_url: str
) -> None:
    gateway = overload_stack.gateway
    jobs = [new_job(document_url, "flood") for _ in range(SCALE.jobs)]
    started = time.monotonic()
    answers = asyncio.run(post_all(gateway, jobs))
    flood_seconds = time.monotonic() - started
    accepted = [job["jobId"] for job, status in zip(jobs, answers, strict=True) if status == 202]
    wait_none_processing(overload_stack, SCALE.settle)
    finished = Counter(asyncio.run(statuses_of(gateway, accepted)))
    settled_seconds = time.monotonic() - started

    overload_stack.kill9("resonate")
    refusals = post_during_outage(overload_stack, document_url)
    overload_stack.run("up")
    # A job after the restart: the stack works again, and anything a refused request had left
    # running in the trigger's event loop would have run with it, before the check below.
    after = new_job(document_url, "after")
    after_answer = overload_stack.submit(after).status_code
    wait_none_processing(overload_stack, AFTER_RESTART_SECONDS)
    checked = [after["jobId"], *(r.job_id for r in refusals)]
    after_status, *found = asyncio.run(statuses_of(gateway, checked))
    half_created = [
        r.job_id for r, status in zip(refusals, found, strict=True) if status != "missing"
    ]

    server_errors = sum(1 for status in answers if status is not None and status >= 500)
    not_done = Counter({status: n for status, n in finished.items() if status != "done"})
    latencies = [r.seconds for r in refusals]
    rows = [
        ["requests", str(len(jobs))],
        ["accepted (202)", str(len(accepted))],
        ["other answers (None: no answer)", tally(Counter(s for s in answers if s != 202))],
        ["5xx", str(server_errors)],
        ["completed (done)", str(finished["done"])],
        ["lost (accepted, not done)", f"{not_done.total()} ({tally(not_done)})"],
        ["all POSTed in", f"{flood_seconds:.1f} s ({len(jobs) / flood_seconds:.0f} req/s)"],
        ["all settled after", f"{settled_seconds:.1f} s"],
        ["outage requests (Resonate killed)", str(len(refusals))],
        ["outage answers", tally(Counter(r.status for r in refusals))],
        ["503 latency median / max", f"{percentile(latencies, 50):.2f} s / {max(latencies):.2f} s"],
        ["half-created (refused, yet exists after restart)", str(len(half_created))],
        ["a job after the restart", f"{after_answer}, then {after_status}"],
    ]
    title = f"Overload: {len(jobs)} POSTs at once ({IN_FLIGHT} in flight), then Resonate down"
    report(title, [table(["measure", "value"], rows)])

    assert server_errors == 0
    assert len(accepted) == len(jobs), Counter(answers)
    assert not_done.total() == 0, not_done
    assert all(r.status == 503 for r in refusals), refusals
    assert all(int(r.retry_after or 0) > 0 for r in refusals), refusals
    assert max(latencies) <= REFUSED_WITHIN, refusals
    assert half_created == []
    assert (after_answer, after_status) == (202, "done")
