"""Human approval, cancellation and deadlines on the real local stack.

A job with ``requireApproval`` stops after analyze and waits on a durable promise; the waiting
costs nothing (its task is suspended on the server, no worker holds it) and survives restarts.
"""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from docflow_samples import invoice_pdf, unsure_invoice_pdf
from docflow_shared.ids import workflow_id
from docflow_testing.processes import BIN
from docflow_testing.stack import REVIEW_STEPS, STEPS, FileServer, LocalStack, running_stack
from PIL import Image

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-approval-stack")]


@pytest.fixture(scope="module")
def approval_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "approval-stack")


@pytest.fixture(scope="module")
def document(files: FileServer) -> str:
    return files.serve("/approval-invoice.pdf", invoice_pdf(), "application/pdf")


def decide(stack: LocalStack, job_id: str, body: Any) -> httpx.Response:
    return httpx.post(f"{stack.gateway}/jobs/{job_id}/approval", json=body, timeout=30)


def cancel(stack: LocalStack, job_id: str) -> httpx.Response:
    return httpx.post(f"{stack.gateway}/jobs/{job_id}/cancel", timeout=30)


def test_an_approved_job_waits_then_completes(approval_stack: LocalStack, document: str) -> None:
    job_id = approval_stack.start_job(document, "approve", requireApproval=True)

    waiting = approval_stack.wait_for(job_id, "awaiting_approval")
    # The reviewer sees the analysis to decide on, and where the job stands.
    assert waiting["step"] == "review"
    assert waiting["result"]["analysis"]["documentType"] == "invoice"
    assert [s["name"] for s in waiting["steps"]] == REVIEW_STEPS
    review = REVIEW_STEPS.index("review")
    assert [s["state"] for s in waiting["steps"]][:review] == ["done"] * review

    answer = decide(approval_stack, job_id, {"approved": True, "reviewer": "bob"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["action"] == "approved"

    done = approval_stack.wait_finished(job_id)
    assert done["status"] == "done", done
    assert done["result"]["approval"] == {"approvedBy": "bob", "comment": ""}
    assert [s["state"] for s in done["steps"]] == ["done"] * len(REVIEW_STEPS)
    # The decision's audit entry: the name the body gave (no verified caller here), from the
    # deciding request; the requester was told of it, then of the result.
    [entry] = done["audit"]
    deciding = answer.headers["X-Correlation-Id"]
    assert entry | {"at": None} == {
        "action": "approved", "by": "bob", "verified": False, "at": None, "comment": None,
        "correlationId": deciding}  # fmt: skip
    audited, finished = approval_stack.notifications(job_id)
    assert (audited["type"], audited["audit"]) == ("audit.approved", entry)
    assert finished["type"] == "job.done"


def test_auto_review_lets_a_sure_job_through_and_stops_an_unsure_one_for_corrections(
    approval_stack: LocalStack, document: str, files: FileServer
) -> None:
    """``"requireApproval": "auto"``: straight through when the analyzer is sure, a person
    when not; the reviewer's corrections become the result."""
    unsure_url = files.serve("/unsure-invoice.pdf", unsure_invoice_pdf(), "application/pdf")
    sure = approval_stack.start_job(document, "auto-sure", requireApproval="auto")
    unsure = approval_stack.start_job(unsure_url, "auto-unsure", requireApproval="auto")

    waiting = approval_stack.wait_for(unsure, "awaiting_approval")
    total = waiting["result"]["analysis"]["fields"]["total"]
    assert total["value"] is None, "two totals that disagree: no value, but candidates"
    assert {c["value"] for c in total["candidates"]} == {"500.00", "350.00"}
    # Each candidate's line is boxed on the picture of its page, where the reviewer checks it.
    first, second = (c["box"] for c in total["candidates"])
    assert first != second
    assert all(0 <= b["left"] < b["right"] <= 1 and 0 <= b["top"] < b["bottom"] <= 1
               for b in (first, second))  # fmt: skip
    picture = httpx.get(f"{approval_stack.gateway}/jobs/{unsure}/pages/1", timeout=30)
    assert picture.status_code == 200, picture.text
    assert picture.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(picture.content)).format == "JPEG"
    missing = httpx.get(f"{approval_stack.gateway}/jobs/{unsure}/pages/9", timeout=30)
    assert (missing.status_code, missing.json()["message"]) == (
        404, f"job {unsure} has no picture of page 9")  # fmt: skip
    wrong = decide(approval_stack, unsure, {"approved": True, "reviewer": "rita",
                                            "fields": {"total": "three hundred"}})  # fmt: skip
    assert wrong.status_code == 422, wrong.text
    assert "is not an amount" in wrong.text
    corrections = {"total": "350.00", "vendor": "Northwind Traders"}
    answer = decide(approval_stack, unsure, {"approved": True, "reviewer": "rita",
                                             "fields": corrections})  # fmt: skip
    assert answer.status_code == 202, answer.text

    done_sure, done_unsure = (approval_stack.wait_finished(j) for j in (sure, unsure))
    assert done_sure["status"] == "done", done_sure
    assert [s["name"] for s in done_sure["steps"]] == STEPS, "sure: no review"
    assert done_unsure["status"] == "done", done_unsure
    assert [s["name"] for s in done_unsure["steps"]] == REVIEW_STEPS
    fields = done_unsure["result"]["fields"]
    assert fields["total"] | {"page": 0} == {
        "value": "350.00", "evidence": "corrected by rita", "page": 0, "confidence": 1.0,
        "source": "reviewer"}  # fmt: skip
    assert (fields["vendor"]["value"], fields["vendor"]["source"]) == ("Northwind Traders",
                                                                      "reviewer")  # fmt: skip
    assert fields["number"]["value"] == "INV-2024-0077", "what was not corrected stays"
    assert "source" not in fields["number"]
    assert done_unsure["result"]["approval"]["corrected"] == corrections


def test_a_rejected_job_ends_rejected_with_the_reviewers_comment(
    approval_stack: LocalStack, document: str
) -> None:
    job_id = approval_stack.start_job(document, "reject", requireApproval=True)
    approval_stack.wait_for(job_id, "awaiting_approval")

    body = {"approved": False, "reviewer": "bob", "comment": "wrong vendor"}
    assert decide(approval_stack, job_id, body).status_code == 202

    ended = approval_stack.wait_finished(job_id)
    assert ended["status"] == "rejected", ended
    assert ended["error"] == {"reason": "rejected", "message": "rejected by bob: wrong vendor"}
    assert ended["result"] is None
    # Nothing was stored; the requester was told.
    states = {s["name"]: s["state"] for s in ended["steps"]}
    assert (states["store"], states["notify"]) == ("pending", "pending")
    audited, event = approval_stack.notifications(job_id)
    assert audited["type"] == "audit.rejected"
    assert (event["type"], event["message"]) == ("job.rejected", "rejected by bob: wrong vendor")


def test_deciding_twice_or_out_of_turn_is_a_clear_conflict(
    approval_stack: LocalStack, document: str
) -> None:
    unknown = decide(approval_stack, "no-such-job", {"approved": True, "reviewer": "bob"})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"

    plain = approval_stack.start_job(document, "plain")
    approval_stack.wait_finished(plain)
    ended = decide(approval_stack, plain, {"approved": True, "reviewer": "bob"})
    assert ended.status_code == 409
    assert "already ended (done)" in ended.json()["message"]

    job_id = approval_stack.start_job(document, "twice", requireApproval=True)
    approval_stack.wait_for(job_id, "awaiting_approval")
    invalid = decide(approval_stack, job_id, {"approved": "yes", "reviewer": ""})
    assert invalid.status_code == 422
    assert {d["field"] for d in invalid.json()["details"]} == {"approved", "reviewer"}
    assert decide(approval_stack, job_id, {"approved": True, "reviewer": "bob"}).status_code == 202
    again = decide(approval_stack, job_id, {"approved": False, "reviewer": "eve"})
    assert again.status_code == 409, again.text
    assert approval_stack.wait_finished(job_id)["status"] == "done"


def test_cancel_while_waiting_ends_the_job_at_once(
    approval_stack: LocalStack, document: str
) -> None:
    job_id = approval_stack.start_job(document, "cancel-wait", requireApproval=True)
    approval_stack.wait_for(job_id, "awaiting_approval")

    answer = cancel(approval_stack, job_id)
    assert answer.status_code == 202, answer.text
    assert answer.json()["action"] == "cancel_requested"

    ended = approval_stack.wait_finished(job_id, timeout=30)
    assert ended["status"] == "canceled", ended
    events = approval_stack.notifications(job_id)
    assert [e["type"] for e in events] == ["audit.cancel_requested", "job.canceled"]
    assert ended["audit"] == [events[0]["audit"]]
    # A finished job cannot be canceled, nor decided on.
    assert cancel(approval_stack, job_id).status_code == 409
    late = decide(approval_stack, job_id, {"approved": True, "reviewer": "bob"})
    assert late.status_code == 409
    assert "already ended (canceled)" in late.json()["message"]


def test_a_deadline_ends_a_waiting_job_timed_out(approval_stack: LocalStack, document: str) -> None:
    job_id = approval_stack.start_job(document, "deadline", requireApproval=True, deadlineSeconds=4)

    ended = approval_stack.wait_finished(job_id, timeout=60)

    assert ended["status"] == "timed_out", ended
    assert ended["error"]["reason"] == "timed_out"
    assert [e["type"] for e in approval_stack.notifications(job_id)] == ["job.timed_out"]


def test_approval_survives_worker_and_server_restarts(
    approval_stack: LocalStack, document: str
) -> None:
    job_id = approval_stack.start_job(document, "restart", requireApproval=True)
    approval_stack.wait_for(job_id, "awaiting_approval")

    approval_stack.kill9("worker")
    approval_stack.kill9("resonate")
    approval_stack.run("up")  # brings back exactly the two, on the same store
    assert approval_stack.status(job_id)["status"] == "awaiting_approval"

    assert decide(approval_stack, job_id, {"approved": True, "reviewer": "bob"}).status_code == 202
    assert approval_stack.wait_finished(job_id)["status"] == "done"
    attempts = approval_stack.step_attempts(job_id)
    assert attempts["download"] == attempts["extract"] == attempts["analyze"] == 1, attempts


def test_waiting_jobs_hold_no_worker(approval_stack: LocalStack, document: str) -> None:
    # 200 requesters' jobs: one requester's fair use is 100 in flight, 30 at once.
    waiting = [approval_stack.start_job(document, "idle", requireApproval=True,
                                        requesterId=f"tenant-{n}") for n in range(200)]  # fmt: skip
    for job_id in waiting:
        approval_stack.wait_for(job_id, "awaiting_approval", timeout=300)

    # On the server, every waiting workflow's task is suspended: no worker has it leased.
    store = sqlite3.connect(f"file:{approval_stack.state_dir / 'resonate.db'}?mode=ro", uri=True)
    ids = [workflow_id(job_id) for job_id in waiting]
    marks = ",".join("?" * len(ids))
    states = dict(
        store.execute(
            f"SELECT state, count(*) FROM tasks WHERE id IN ({marks}) GROUP BY state",  # noqa: S608
            ids,
        ).fetchall()
    )
    store.close()
    assert states == {"suspended": 200}

    # And a new job goes straight through.
    job_id = approval_stack.start_job(document, "after-idle")
    assert approval_stack.wait_finished(job_id, timeout=60)["status"] == "done"


@pytest.fixture(scope="module")
def short_wait_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "short-wait", DOCFLOW_APPROVAL_TIMEOUT="3")


def test_no_decision_in_time_ends_the_job_timed_out(
    short_wait_stack: LocalStack, document: str
) -> None:
    job_id = short_wait_stack.start_job(document, "no-decision", requireApproval=True)

    ended = short_wait_stack.wait_finished(job_id, timeout=60)

    assert ended["status"] == "timed_out", ended
    assert ended["error"] == {"reason": "timed_out", "message": "no approval decision within 3 s"}
    [event] = short_wait_stack.notifications(job_id)
    assert event["type"] == "job.timed_out"
    late = decide(short_wait_stack, job_id, {"approved": True, "reviewer": "bob"})
    assert late.status_code == 409


def docflow_cli(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**stack.env, "DOCFLOW_GATEWAY_URL": stack.gateway}
    command = [str(BIN / "docflow"), *args, "--json"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_cli_approves_rejects_and_cancels(approval_stack: LocalStack, document: str) -> None:
    approved, rejected, canceled = (
        approval_stack.start_job(document, name, requireApproval=True)
        for name in ("cli-ok", "cli-no", "cli-cancel")
    )
    for job_id in (approved, rejected, canceled):
        approval_stack.wait_for(job_id, "awaiting_approval")

    ok = docflow_cli(approval_stack, "approve", approved, "--reviewer", "bob")
    no = docflow_cli(approval_stack, "reject", rejected, "--reviewer", "bob", "--comment", "dup")
    stop = docflow_cli(approval_stack, "cancel", canceled)

    assert (ok.returncode, json.loads(ok.stdout)["action"]) == (0, "approved"), ok.stderr
    assert (no.returncode, json.loads(no.stdout)["action"]) == (0, "rejected"), no.stderr
    assert (stop.returncode, json.loads(stop.stdout)["action"]) == (0, "cancel_requested")
    assert approval_stack.wait_finished(approved)["status"] == "done"
    assert approval_stack.wait_finished(rejected)["status"] == "rejected"
    assert approval_stack.wait_finished(canceled)["status"] == "canceled"
    # Refusals exit non-zero with the API's message.
    late = docflow_cli(approval_stack, "approve", approved, "--reviewer", "bob")
    assert late.returncode == 2  # the API refused
    assert "already ended (done)" in late.stderr
    shown = docflow_cli(approval_stack, "status", rejected)
    assert json.loads(shown.stdout)["error"]["message"] == "rejected by bob: dup"
