"""A stack whose steps each take a second: progress is visible, and crashes can land mid-step."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docflow_samples import invoice_image, invoice_pdf
from docflow_testing.processes import wait_until
from docflow_testing.stack import STEPS, FileServer, LocalStack, running_stack
from fpdf import FPDF

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-slow-stack")]


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "slow-stack", DOCFLOW_DEMO_STEP_DELAY="1")


def submit(stack: LocalStack, files: FileServer, **fields: object) -> str:
    url = files.serve("/recovery-invoice.pdf", invoice_pdf(), "application/pdf")
    return stack.start_job(url, "slow", **fields)


def test_status_moves_through_the_steps_in_order(slow_stack: LocalStack, files: FileServer) -> None:
    job_id = submit(slow_stack, files)
    seen: list[tuple[str, str | None]] = []
    while not seen or seen[-1][0] == "processing":
        status = slow_stack.status(job_id)
        point = (status["status"], status["step"])
        if not seen or seen[-1] != point:
            seen.append(point)
        time.sleep(0.1)

    assert seen == [*(("processing", step) for step in STEPS), ("done", None)]


def test_a_worker_killed_during_analyze_resumes_there_after_make_up(
    slow_stack: LocalStack, files: FileServer
) -> None:
    job_id = submit(slow_stack, files)
    slow_stack.wait_until(job_id, lambda s: s["step"] == "analyze")

    slow_stack.kill9("worker")
    time.sleep(3)  # longer than the 2 s lease: nothing may report the job as failed
    during = slow_stack.status(job_id)
    slow_stack.run("up")  # brings back exactly the missing worker
    after = slow_stack.wait_finished(job_id)

    assert during["status"] == "processing"
    assert during["step"] == "analyze"
    assert after["status"] == "done"
    # analyze was interrupted, so it ran again, on another worker; no other step did.
    timeline = {step["name"]: step for step in after["steps"]}
    assert {name: timeline[name]["attempts"] for name in STEPS} == {
        **dict.fromkeys(STEPS, 1),
        "analyze": 2,
    }, timeline
    assert timeline["analyze"]["worker"] != timeline["download"]["worker"]
    assert timeline["analyze"]["worker"] == timeline["notify"]["worker"]
    for step in timeline.values():
        assert step["startedAt"] <= step["endedAt"], step


def test_resonate_down_gives_503_within_two_seconds_and_creates_nothing_later(
    slow_stack: LocalStack, files: FileServer
) -> None:
    slow_stack.kill9("resonate")
    job = {"jobId": f"down-{uuid.uuid4().hex[:8]}", "documentUrl": files.url("/x.pdf"),
           "requesterId": "carol"}  # fmt: skip
    started = time.monotonic()
    refused = slow_stack.submit(job)
    elapsed = time.monotonic() - started

    slow_stack.run("up")
    time.sleep(1)
    unknown = httpx.get(f"{slow_stack.gateway}/status/{job['jobId']}", timeout=10)
    retried = slow_stack.submit(job)

    assert refused.status_code == 503
    assert refused.json()["error"] == "backend_unavailable"
    assert int(refused.headers["Retry-After"]) > 0
    assert elapsed < 2.0
    assert unknown.status_code == 404, "the refused request must not create the job later"
    assert retried.status_code == 202


def test_sigterm_lets_the_running_step_finish_and_starts_no_new_one(
    slow_stack: LocalStack, files: FileServer
) -> None:
    job_id = submit(slow_stack, files)
    slow_stack.wait_until(job_id, lambda s: s["step"] == "extract")

    pid = slow_stack.signal("worker", signal.SIGTERM)
    wait_until(lambda: not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), 30,
               "the worker to exit")  # fmt: skip
    stopped_at = slow_stack.status(job_id)
    slow_stack.run("up")
    after = slow_stack.wait_finished(job_id)

    assert "worker stopped" in slow_stack.log("worker")
    # SIGTERM came while extract ran: its page batch or, after it, the gathering step.
    states = [s["state"] for s in stopped_at["steps"]]
    assert states[0] == "done", stopped_at
    assert states[1] in ("running", "done"), stopped_at
    assert states[2] == "pending", "no new step started on the leaving worker"
    assert after["status"] == "done"
    assert slow_stack.batches_done(job_id) == [(1, 1)]
    assert slow_stack.batch_attempts(job_id) == {(1, 1): 1}, "the batch ran once, checkpointed"
    attempts = slow_stack.step_attempts(job_id)
    assert attempts["extract"] == 1, "the step in flight finished and was checkpointed"
    assert attempts["analyze"] == 1


def test_cancel_during_a_step_ends_the_job_at_the_next_boundary(
    slow_stack: LocalStack, files: FileServer
) -> None:
    job_id = submit(slow_stack, files)
    slow_stack.wait_until(job_id, lambda s: s["step"] == "extract")

    answer = httpx.post(f"{slow_stack.gateway}/jobs/{job_id}/cancel", timeout=30)
    ended = slow_stack.wait_finished(job_id)

    assert answer.status_code == 202, answer.text
    assert ended["status"] == "canceled", ended
    assert ended["error"] == {"reason": "canceled", "message": "canceled on request"}
    # The step in flight (extract's page batch, or the gathering after it) finished; the job
    # ended at the next boundary, and nothing after it ran.
    assert slow_stack.batches_done(job_id) == [(1, 1)]
    assert "analyze" not in slow_stack.step_attempts(job_id)
    states = {s["name"]: s["state"] for s in ended["steps"]}
    assert ended["step"] in ("extract", "analyze"), ended
    assert states[ended["step"]] == "failed"
    assert states["store"] == states["notify"] == "pending"
    again = httpx.post(f"{slow_stack.gateway}/jobs/{job_id}/cancel", timeout=30)
    assert again.status_code == 409
    assert "already ended (canceled)" in again.json()["message"]


def test_a_passed_deadline_stops_the_job_between_steps(
    slow_stack: LocalStack, files: FileServer
) -> None:
    job_id = submit(slow_stack, files, deadlineSeconds=2)

    ended = slow_stack.wait_finished(job_id)

    assert ended["status"] == "timed_out", ended
    assert ended["error"] == {"reason": "timed_out", "message": "the job's deadline passed"}
    attempts = slow_stack.step_attempts(job_id)
    assert "store" not in attempts, attempts
    assert len(attempts) < len(STEPS)


def long_mixed_pdf(text_pages: int, scanned_pages: int) -> bytes:
    """Text pages first, then image-only (scanned) pages, which take seconds each to OCR."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for n in range(1, text_pages + 1):
        pdf.add_page()
        pdf.cell(text=f"Page {n}: the terms of this agreement, in plain words, continue here.")
    for _ in range(scanned_pages):
        pdf.add_page()
        pdf.image(invoice_image(scale=2), x=10, y=10, w=190)
    return bytes(pdf.output())


def test_a_worker_killed_in_a_page_batch_resumes_at_that_batch(
    slow_stack: LocalStack, files: FileServer
) -> None:
    job_id = f"batches-{uuid.uuid4().hex[:8]}"
    url = files.serve(f"/{job_id}.pdf", long_mixed_pdf(20, 3), "application/pdf")
    assert (
        slow_stack.submit({"jobId": job_id, "documentUrl": url, "requesterId": "bob"}).status_code
        == 202
    )

    # Pages 1-10 and 11-20 read their text layers in a moment; 21-23 need OCR.
    wait_until(lambda: len(slow_stack.batches_done(job_id)) == 2, 60, "two batches")
    assert slow_stack.status(job_id)["step"] == "extract"
    slow_stack.kill9("worker")
    slow_stack.run("up")
    done = slow_stack.wait_finished(job_id)

    assert done["status"] == "done", done
    assert done["result"]["pages"] == 23
    assert slow_stack.batches_done(job_id) == [(1, 10), (11, 20), (21, 23)]
    assert slow_stack.batch_attempts(job_id) == {(1, 10): 1, (11, 20): 1, (21, 23): 2}, (
        "the two finished batches never ran again; the third did"
    )
    assert slow_stack.step_attempts(job_id)["download"] == 1


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"
