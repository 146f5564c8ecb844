"""The whole stack with no long-running worker (``DOCFLOW_WORKER_MODE=serverless``): the dev
server pushes each task to the worker function behind the local gateway (its function URL
route), as the real server pushes to a Lambda function URL, with the push token.

The seed demo finishes; a job that needs approval waits without any invocation and finishes
once approved; killing the function's process mid-step resumes the job at that step when the
lease lapses; and each invocation runs one step at most: the scanned invoice's page batches each
in an invocation of their own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from docflow_samples import INVOICE_LINES, scanned_invoice_pdf
from docflow_testing.processes import BIN, ROOT
from docflow_testing.stack import REVIEW_STEPS, STEPS, FileServer, LocalStack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-serverless-stack")]

INVOICE = "\n".join(INVOICE_LINES).encode()


@pytest.fixture(scope="module")
def serverless_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # Each step takes a second more, so a test can catch one mid-step. The function's timeout is
    # 20 s, not 15 minutes: its lease (the timeout and 10 s) is how long a killed step waits.
    settings = {"DOCFLOW_WORKER_MODE": "serverless", "DOCFLOW_DEMO_STEP_DELAY": "1",
                "DOCFLOW_FUNCTION_TIMEOUT": "20"}  # fmt: skip
    yield from running_stack(tmp_path_factory, "serverless-stack", **settings)


def invocations(stack: LocalStack, job_id: str) -> dict[str, list[str]]:
    """The steps (and page batches: ``extract_pages``) each invocation of the worker function
    started for ``job_id``, by the invocation's request id: its "step started" log lines."""
    started: dict[str, list[str]] = defaultdict(list)
    for line in stack.log("gateway").splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        if record.get("message") == "step started" and record.get("jobId") == job_id:
            started[record["invocation"]].append(record["step"])
    return dict(started)


def test_there_is_no_worker_process_and_the_seed_demo_finishes(
    serverless_stack: LocalStack,
) -> None:
    assert not (serverless_stack.state_dir / "run" / "worker.pid").exists()
    assert "worker function" in serverless_stack.printed

    demo = subprocess.run([str(BIN / "docflow-demo")], cwd=ROOT, env=serverless_stack.env,
                          capture_output=True, text=True, timeout=180, check=False)  # fmt: skip

    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "done" in demo.stdout


def test_each_invocation_runs_one_step_and_each_page_batch_has_its_own(
    serverless_stack: LocalStack, files: FileServer
) -> None:
    document = files.serve("/scan.pdf", scanned_invoice_pdf(), "application/pdf")
    job_id = serverless_stack.start_job(document, "scan")

    done = serverless_stack.wait_finished(job_id, timeout=180)

    assert done["status"] == "done", done
    assert [s["name"] for s in done["steps"]] == STEPS
    assert serverless_stack.step_attempts(job_id) == dict.fromkeys(STEPS, 1)
    ran = invocations(serverless_stack, job_id)
    assert all(len(steps) == 1 for steps in ran.values()), ran
    batches = len(serverless_stack.batches_done(job_id))
    assert Counter(s for steps in ran.values() for s in steps) == {
        **dict.fromkeys(STEPS, 1), "extract_pages": batches}, ran  # fmt: skip


def test_an_approval_job_waits_without_an_invocation_and_finishes_once_approved(
    serverless_stack: LocalStack, files: FileServer
) -> None:
    document = files.serve("/approve.txt", INVOICE, "text/plain")
    job_id = serverless_stack.start_job(document, "approve", requireApproval=True)
    serverless_stack.wait_for(job_id, "awaiting_approval")
    before = len(invocations(serverless_stack, job_id))
    time.sleep(3)
    during = len(invocations(serverless_stack, job_id))

    answer = httpx.post(f"{serverless_stack.gateway}/jobs/{job_id}/approval", timeout=30,
                        json={"approved": True, "reviewer": "bob"})  # fmt: skip
    done = serverless_stack.wait_finished(job_id, timeout=120)

    assert answer.status_code == 202, answer.text
    assert during == before, "a wait runs nothing"
    assert done["status"] == "done", done
    assert [s["name"] for s in done["steps"]] == REVIEW_STEPS
    assert done["result"]["approval"]["approvedBy"] == "bob"


def test_a_document_that_cannot_be_processed_fails_its_job_at_once(
    serverless_stack: LocalStack, files: FileServer
) -> None:
    """Steps retry on their own terms, not the SDK's: a 404 is not retried at all (were the SDK
    to retry it, each retry would be another invocation, and the job would never end)."""
    job_id = serverless_stack.start_job(files.url("/serverless-missing.pdf"), "missing")

    failed = serverless_stack.wait_until(job_id, lambda s: s["status"] != "processing", 30)

    assert (failed["status"], failed["error"]["reason"]) == ("failed", "not_found"), failed
    assert serverless_stack.step_attempts(job_id) == {"download": 1}


def test_a_function_killed_mid_step_resumes_at_that_step_when_its_lease_lapses(
    serverless_stack: LocalStack, files: FileServer
) -> None:
    document = files.serve("/kill.txt", INVOICE, "text/plain")
    job_id = serverless_stack.start_job(document, "kill")
    status = serverless_stack.wait_until(job_id, lambda s: s["step"] == "analyze" and running(s))
    worker = running(status)
    assert worker is not None

    os.kill(int(worker.rsplit(":", 1)[1]), signal.SIGKILL)  # the function's process, mid-step
    done = serverless_stack.wait_finished(job_id, timeout=120)

    assert done["status"] == "done", done
    attempts = serverless_stack.step_attempts(job_id)
    assert attempts == {**dict.fromkeys(STEPS, 1), "analyze": 2}, attempts


def running(status: dict[str, Any]) -> str | None:
    """The worker (``host:pid``) running the job's current step, once it has begun it."""
    step = next((s for s in status["steps"] if s["name"] == status["step"]), None)
    return step["worker"] if step and step["state"] == "running" else None
