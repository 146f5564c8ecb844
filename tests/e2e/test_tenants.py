"""Tenants on the real local stack with the JWT authorizer (``DOCFLOW_AUTH=jwt``): each caller
is who its verified token says; it starts jobs as itself only, and sees and acts on its own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from docflow_cli.cli import app
from docflow_samples import invoice_pdf
from docflow_testing.stack import FileServer, LocalStack, running_stack
from playwright.sync_api import Browser, expect
from typer.testing import CliRunner, Result

from tests.e2e.browser import chromium, loopback_only

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-tenants-stack")]

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def document(files: FileServer) -> str:
    return files.serve("/tenants-invoice.pdf", invoice_pdf(), "application/pdf")


# Fair use, small enough to provoke: 3 jobs in flight, a burst of 5 starts, then 6 a minute.
LIMITS = {"DOCFLOW_MAX_JOBS_IN_FLIGHT": "3", "DOCFLOW_START_BURST": "5",
          "DOCFLOW_STARTS_PER_MINUTE": "6"}  # fmt: skip


@pytest.fixture(scope="module")
def tenants_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "tenants-stack", DOCFLOW_AUTH="jwt", **LIMITS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


class Client:
    """One user's API client, with a token of the stack's dev issuer."""

    def __init__(self, stack: LocalStack, user: str, *groups: str) -> None:
        self.stack, self.token = stack, stack.token(user, *groups)
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.http = httpx.Client(base_url=stack.gateway, timeout=30, headers=self.headers)

    def start(
        self, document: str, requester: str | None, **fields: object
    ) -> tuple[str, httpx.Response]:
        """Start a job for ``requester`` (None: left out, so the token's)."""
        job_id = f"tenant-{uuid.uuid4().hex[:8]}"
        named = {"requesterId": requester} if requester else {}
        job = {"jobId": job_id, "documentUrl": document, **named, **fields}
        return job_id, self.http.post("/process-document", json=job)

    def wait_for(self, job_id: str, *statuses: str) -> dict[str, Any]:
        """The job's status, as this user sees it, once it is one of ``statuses``."""
        return self.stack.wait_for(job_id, *statuses, headers=self.headers)

    def listed(self) -> set[str]:
        return {job["jobId"] for job in self.http.get("/jobs?limit=100").json()["jobs"]}


def test_each_requester_starts_sees_and_acts_on_its_own_jobs_only(
    tenants_stack: LocalStack, document: str
) -> None:
    alice, bob = Client(tenants_stack, "alice"), Client(tenants_stack, "bob")
    ops = Client(tenants_stack, "ops", "admin")

    job_id, started = alice.start(document, "alice")
    _, as_alice = bob.start(document, "alice")
    anonymous = httpx.get(f"{tenants_stack.gateway}/status/{job_id}", timeout=30)

    assert started.status_code == 202, started.text
    assert as_alice.status_code == 403, as_alice.text
    assert as_alice.json()["error"] == "forbidden"
    assert (anonymous.status_code, anonymous.json()) == (401, {"message": "Unauthorized"})
    assert alice.http.get(f"/status/{job_id}").status_code == 200
    for answer in (bob.http.get(f"/status/{job_id}"), bob.http.post(f"/jobs/{job_id}/cancel"),
                   bob.http.post(f"/jobs/{job_id}/redrive")):  # fmt: skip
        assert answer.status_code == 404, answer.text
        assert answer.json()["message"] == f"no job {job_id}"
    assert job_id in alice.listed()
    assert job_id not in bob.listed()
    assert job_id in ops.listed()


def test_a_reviewer_decides_on_anothers_job_in_its_own_verified_name(
    tenants_stack: LocalStack, document: str
) -> None:
    alice, bob = Client(tenants_stack, "alice"), Client(tenants_stack, "bob")
    rita = Client(tenants_stack, "rita", "reviewer")
    job_id, started = alice.start(document, "alice", requireApproval=True)
    assert started.status_code == 202, started.text
    alice.wait_for(job_id, "awaiting_approval")

    def decided_by(client: Client, reviewer: str | None) -> httpx.Response:
        named = {"reviewer": reviewer} if reviewer else {}
        decision = {"approved": True, "comment": "checked", **named}
        return client.http.post(f"/jobs/{job_id}/approval", json=decision)

    assert decided_by(bob, "bob").status_code == 404, "not his job, and not a reviewer"
    own = decided_by(alice, "alice")
    assert (own.status_code, own.json()["error"]) == (403, "forbidden")
    assert decided_by(rita, "alice").status_code == 403, "a reviewer decides in her own name"
    assert rita.http.get(f"/status/{job_id}").status_code == 200, "a reviewer reads it"
    decided = decided_by(rita, None)  # no name typed: the token's
    assert decided.status_code == 202, decided.text

    status = alice.wait_for(job_id, "done")
    assert status["result"]["approval"] == {"approvedBy": "rita", "comment": "checked"}
    # The audit entry carries the reviewer's verified identity and the deciding request; the
    # notification stream carries the same entry to the requester.
    [entry] = status["audit"]
    assert (entry["action"], entry["by"], entry["verified"], entry["comment"]) == (
        "approved", "rita", True, "checked")  # fmt: skip
    assert entry["correlationId"] == decided.headers["X-Correlation-Id"]
    announced = [e for e in tenants_stack.notifications(job_id) if e["type"] == "audit.approved"]
    assert [(e["requesterId"], e["audit"]) for e in announced] == [("alice", entry)]


def test_a_job_started_without_a_requester_is_the_callers(
    tenants_stack: LocalStack, document: str
) -> None:
    alice = Client(tenants_stack, "alice")
    job_id, started = alice.start(document, None)

    assert started.status_code == 202, started.text
    assert job_id in alice.listed()
    alice.wait_for(job_id, "done")
    [event] = tenants_stack.notifications(job_id)
    assert (event["type"], event["requesterId"]) == ("job.done", "alice")


def test_a_requester_flooding_is_refused_with_429_while_another_is_accepted(
    tenants_stack: LocalStack, document: str
) -> None:
    flood, other = Client(tenants_stack, "flood"), Client(tenants_stack, "other")

    # Jobs that wait for approval stay in flight: 3 are accepted, the rest refused (a refusal
    # takes no start from the rate).
    answers = [flood.start(document, None, requireApproval=True)[1] for _ in range(8)]
    _, others = other.start(document, None)

    assert [a.status_code for a in answers] == [202] * 3 + [429] * 5
    for answer in answers[3:]:
        assert answer.json()["error"] == "too_many_requests"
        assert "flood has 3 jobs in flight" in answer.json()["message"]
        assert answer.headers["Retry-After"] == "30"
    assert others.status_code == 202, others.text


def test_sending_faster_than_the_start_rate_is_refused_with_how_long_to_wait(
    tenants_stack: LocalStack, document: str
) -> None:
    eager = Client(tenants_stack, "eager")
    job = {"jobId": f"tenant-{uuid.uuid4().hex[:8]}", "documentUrl": document,
           "requireApproval": True}  # fmt: skip

    # The same job, sent again and again: one job in flight, but every request is a start.
    answers = [eager.http.post("/process-document", json=job) for _ in range(7)]

    assert [a.status_code for a in answers] == [202] * 5 + [429] * 2  # a burst of 5
    for answer in answers[5:]:
        assert "eager is starting jobs faster than 6 a minute" in answer.json()["message"]
        assert 1 <= int(answer.headers["Retry-After"]) <= 10  # one start each 10 s


def test_the_jobs_page_shows_each_signed_in_user_only_their_jobs(
    tenants_stack: LocalStack, document: str, browser: Browser
) -> None:
    users = {name: Client(tenants_stack, name) for name in ("page-ann", "page-ben")}
    jobs = {name: user.start(document, None)[0] for name, user in users.items()}

    for name, user in users.items():
        context = loopback_only(browser)
        page = context.new_page()
        page.goto(f"{tenants_stack.gateway}/")
        expect(page.locator("#notice")).to_contain_text("docflow login")
        page.fill("#token", user.token)
        page.click("#token-use")
        mine = page.locator(f'[data-job-id="{jobs[name]}"]')
        expect(mine).to_be_visible(timeout=WAIT_MS)
        for job_id in (job for who, job in jobs.items() if who != name):
            expect(page.locator(f'[data-job-id="{job_id}"]')).to_have_count(0)
        shown = page.locator("[data-job-id]").evaluate_all(
            "cards => cards.map(c => c.dataset.jobId)"
        )
        assert shown == [jobs[name]]
        context.close()


def test_the_cli_signed_in_starts_and_decides_as_its_user(
    tenants_stack: LocalStack, document: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCFLOW_API_TOKEN", raising=False)
    runner, gateway = CliRunner(), ["--gateway", tenants_stack.gateway]

    def as_user(user: str, *args: str) -> Result:
        monkeypatch.setenv("DOCFLOW_STATE_DIR", str(tmp_path / user))  # where its token is kept
        said = runner.invoke(app, [*args, *gateway])
        assert said.exit_code == 0, said.output
        return said

    as_user("cli-ann", "login", "--as", "cli-ann")
    as_user("cli-rex", "login", "--as", "cli-rex", "--role", "reviewer")
    submitted = as_user("cli-ann", "submit", document, "--require-approval", "--json")
    job_id = json.loads(submitted.stdout)["jobId"]
    Client(tenants_stack, "cli-ann").wait_for(job_id, "awaiting_approval")
    as_user("cli-rex", "approve", job_id, "--comment", "fine")

    done = Client(tenants_stack, "cli-ann").wait_for(job_id, "done")
    assert done["result"]["approval"] == {"approvedBy": "cli-rex", "comment": "fine"}
    assert [(e["action"], e["by"], e["verified"]) for e in done["audit"]] == [
        ("approved", "cli-rex", True)]  # fmt: skip
