"""Tenants on the real local stack with the JWT authorizer (``DOCFLOW_AUTH=jwt``): each caller
is who its verified token says; it starts jobs as itself only, and sees and acts on its own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from docflow_samples import invoice_pdf
from docflow_testing.stack import FileServer, LocalStack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-tenants-stack")]


@pytest.fixture(scope="module")
def document(files: FileServer) -> str:
    return files.serve("/tenants-invoice.pdf", invoice_pdf(), "application/pdf")


@pytest.fixture(scope="module")
def tenants_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "tenants-stack", DOCFLOW_AUTH="jwt")


class Client:
    """One user's API client, with a token of the stack's dev issuer."""

    def __init__(self, stack: LocalStack, user: str, *groups: str) -> None:
        minted = httpx.post(f"{stack.gateway}/dev-issuer/token",
                            json={"sub": user, "groups": list(groups)}, timeout=30)  # fmt: skip
        assert minted.status_code == 200, minted.text
        token = minted.json()["token"]
        self.http = httpx.Client(base_url=stack.gateway, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip

    def start(self, document: str, requester: str, **fields: object) -> tuple[str, httpx.Response]:
        job_id = f"tenant-{uuid.uuid4().hex[:8]}"
        job = {"jobId": job_id, "documentUrl": document, "requesterId": requester, **fields}
        return job_id, self.http.post("/process-document", json=job)

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
    deadline = time.monotonic() + 90
    while alice.http.get(f"/status/{job_id}").json()["status"] != "awaiting_approval":
        assert time.monotonic() < deadline, "the job never waited for approval"
        time.sleep(0.2)

    def decided_by(client: Client, reviewer: str) -> httpx.Response:
        decision = {"approved": True, "reviewer": reviewer, "comment": "checked"}
        return client.http.post(f"/jobs/{job_id}/approval", json=decision)

    assert decided_by(bob, "bob").status_code == 404, "not his job, and not a reviewer"
    own = decided_by(alice, "alice")
    assert (own.status_code, own.json()["error"]) == (403, "forbidden")
    assert decided_by(rita, "alice").status_code == 403, "a reviewer decides in her own name"
    assert rita.http.get(f"/status/{job_id}").status_code == 200, "a reviewer reads it"
    assert decided_by(rita, "rita").status_code == 202

    while (status := alice.http.get(f"/status/{job_id}").json())["status"] != "done":
        assert time.monotonic() < deadline + 60, status
        time.sleep(0.2)
    assert status["result"]["approval"] == {"approvedBy": "rita", "comment": "checked"}
