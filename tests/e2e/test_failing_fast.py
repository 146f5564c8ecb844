"""A bug fails its job fast, and a redrive finishes it once the fix is deployed.

The stack's worker runs with ``--demo-failing-step analyze``: its analyze step raises on every
attempt, as a bug would. The job must read ``failed`` with reason ``internal_error`` (the
exception's type and message) within a bounded time, not sit in ``processing`` while the step
is retried for half an hour as an outage is. Then a fixed worker (the same, without the flag)
replaces it, and a redrive runs the job on from analyze: the steps done before it not again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docflow_cli.cli import app
from docflow_samples import invoice_pdf
from docflow_testing.processes import Process
from docflow_testing.stack import STEPS, FileServer, LocalStack, running_stack
from typer.testing import CliRunner

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-failing-stack")]

# Three attempts of analyze, 1 s and 2 s apart, after download and extract: seconds. The bound
# leaves room for a loaded machine; an outage's retries (about 35 minutes) would blow it.
FAILS_WITHIN_SECONDS = 60
DEADLINE_SECONDS = 20  # a job that may wait for a redrive this long after it was accepted


@pytest.fixture(scope="module")
def failing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "failing-stack", DOCFLOW_DEMO_FAILING_STEP="analyze")


def submit(stack: LocalStack, files: FileServer, **fields: object) -> str:
    url = files.serve("/failing-invoice.pdf", invoice_pdf(), "application/pdf")
    return stack.start_job(url, "bug", **fields)


def redrive(stack: LocalStack, job_id: str) -> httpx.Response:
    return httpx.post(f"{stack.gateway}/jobs/{job_id}/redrive", timeout=30)


def test_a_step_that_raises_a_bug_fails_the_job_fast_with_internal_error(
    failing_stack: LocalStack, files: FileServer
) -> None:
    submitted = time.monotonic()
    job_id = submit(failing_stack, files)
    status = failing_stack.wait_finished(job_id, timeout=FAILS_WITHIN_SECONDS)
    took = time.monotonic() - submitted

    assert status["status"] == "failed", status
    assert status["error"] == {
        "reason": "internal_error",
        "message": "analyze failed: DemoBug: analyze fails on purpose (--demo-failing-step)",
    }
    assert failing_stack.step_attempts(job_id) == {"download": 1, "extract": 1, "analyze": 3}
    assert took < FAILS_WITHIN_SECONDS
    gave_up = [line for line in failing_stack.log("worker").splitlines()
               if job_id in line and '"step gave up"' in line]  # fmt: skip
    assert gave_up
    assert all("Traceback" in line for line in gave_up), "its traceback is in the worker's log"


def test_a_failed_job_nobody_redrives_fails_for_good_at_its_deadline(
    failing_stack: LocalStack, files: FileServer
) -> None:
    job_id = submit(failing_stack, files, deadlineSeconds=DEADLINE_SECONDS)
    assert failing_stack.wait_finished(job_id, timeout=FAILS_WITHIN_SECONDS)["redrivable"]

    deadline = time.monotonic() + DEADLINE_SECONDS + 30
    while (status := failing_stack.status(job_id))["redrivable"]:
        assert time.monotonic() < deadline, f"still redrivable after its deadline: {status}"
        time.sleep(0.5)

    assert (status["status"], status["error"]["reason"]) == ("failed", "internal_error")
    assert status["runs"][0]["failedStep"] == "analyze"
    refused = redrive(failing_stack, job_id)
    assert refused.status_code == 409
    assert "failed for good (internal_error)" in refused.json()["message"]


def test_a_redrive_after_the_fix_finishes_the_job_from_the_failed_step(
    failing_stack: LocalStack, files: FileServer, tmp_path: Path
) -> None:
    job_id = submit(failing_stack, files)
    failed = failing_stack.wait_finished(job_id, timeout=FAILS_WITHIN_SECONDS)
    assert (failed["status"], failed["step"], failed["redrivable"]) == ("failed", "analyze", True)
    assert redrive(failing_stack, "no-such-job").status_code == 404

    # Deploy the fix: the same worker without the failing step, in place of the broken one.
    command = failing_stack.command()
    fixed = command[: command.index("--demo-failing-step")]
    worker = Process(fixed, tmp_path / "fixed-worker.log", failing_stack.environment()).start()
    try:
        failing_stack.kill9("worker")
        said = CliRunner().invoke(app, ["redrive", job_id],
                                  env={"DOCFLOW_GATEWAY": failing_stack.gateway})  # fmt: skip
        assert said.exit_code == 0, said.output
        assert said.stdout.startswith(f"{job_id}: redriven: it runs again from its failed step")
        again = redrive(failing_stack, job_id)
        assert again.status_code == 409, "a job that is running again cannot be redriven"

        done = failing_stack.wait_finished(job_id, timeout=120)
    finally:
        worker.kill9()

    assert done["status"] == "done", done
    assert done["result"]["resultUrl"]
    assert (done["error"], done["redrivable"]) == (None, False)
    # Recorded: by nobody verified (a shared-token stack); and the requester was told.
    assert [(e["action"], e["by"], e["verified"]) for e in done["audit"]] == [
        ("redriven", None, False)]  # fmt: skip
    assert "audit.redriven" in [e["type"] for e in failing_stack.notifications(job_id)]
    # Every step ran once, but analyze: its three failed attempts, and the one that succeeded.
    attempts = failing_stack.step_attempts(job_id)
    assert attempts == {**dict.fromkeys(STEPS, 1), "analyze": 4}
    runs = done["runs"]
    assert [run["run"] for run in runs] == [1, 2]
    assert runs[0]["failedStep"] == "analyze"
    assert runs[0]["error"]["reason"] == "internal_error"
    assert runs[1]["failedStep"] is None
    assert redrive(failing_stack, job_id).status_code == 409, "a done job cannot be redriven"
