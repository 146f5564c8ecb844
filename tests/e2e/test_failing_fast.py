"""A bug fails its job fast. The worker here runs with ``--demo-failing-step analyze``: its
analyze step raises on every attempt, as a bug would. The job must end ``failed`` with reason
``internal_error`` (the exception's type and message) within a bounded time, not sit in
``processing`` while the step is retried for half an hour as an outage is."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from docflow_samples import invoice_pdf
from docflow_testing.stack import FileServer, LocalStack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-failing-stack")]

# Three attempts of analyze, 1 s and 2 s apart, after download and extract: seconds. The bound
# leaves room for a loaded machine; an outage's retries (about 35 minutes) would blow it.
FAILS_WITHIN_SECONDS = 60


@pytest.fixture(scope="module")
def failing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "failing-stack", DOCFLOW_DEMO_FAILING_STEP="analyze")


def test_a_step_that_raises_a_bug_fails_the_job_fast_with_internal_error(
    failing_stack: LocalStack, files: FileServer
) -> None:
    job_id = f"bug-{uuid.uuid4().hex[:8]}"
    url = files.serve(f"/{job_id}.pdf", invoice_pdf(), "application/pdf")
    job = {"jobId": job_id, "documentUrl": url, "requesterId": "bob"}

    submitted = time.monotonic()
    assert failing_stack.submit(job).status_code == 202
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
