"""Workflow versions on the real local stack: the trigger starts jobs at a version no worker
has (a trigger deployed ahead of its workers). Nobody spins: the task waits in its version's
own group, which no live worker listens to, so the worker's CPU and the server's request rate
stay as they were without it. Nobody is left guessing: the status says which version is missing
within DOCFLOW_STUCK_AFTER, and ``GET /versions`` lists the job in flight on it, with no worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docflow_cli.cli import app
from docflow_testing.stack import FileServer, LocalStack, running_stack
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-versions-stack")]

AHEAD = 2  # the version the trigger starts jobs at, which no worker has
WINDOW_SECONDS = 10  # each of the two windows compared


@pytest.fixture(scope="module")
def ahead_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    settings = {"DOCFLOW_WORKFLOW_VERSION": str(AHEAD), "DOCFLOW_STUCK_AFTER": "2"}
    yield from running_stack(tmp_path_factory, "versions-stack", **settings)


def server_requests(stack: LocalStack) -> float:
    """Every request the Resonate server has answered so far (its Prometheus counter)."""
    port = stack.env["RESONATE_OBSERVABILITY__METRICS_PORT"]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == "resonate_request_total")  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def window(stack: LocalStack, worker: int) -> tuple[float, float]:
    """The worker's CPU seconds and the server's requests over ``WINDOW_SECONDS``."""
    cpu, requests = cpu_seconds(worker), server_requests(stack)
    time.sleep(WINDOW_SECONDS)
    return cpu_seconds(worker) - cpu, server_requests(stack) - requests


def test_a_job_at_a_version_no_worker_has_waits_without_spinning_and_says_why(
    ahead_stack: LocalStack, files: FileServer
) -> None:
    worker = int((ahead_stack.state_dir / "run" / "worker.pid").read_text())
    document = files.serve("/versions.txt", b"Invoice 7\nTotal: 12.00 EUR\n", "text/plain")
    idle_cpu, idle_requests = window(ahead_stack, worker)

    job_id = ahead_stack.start_job(document, "ahead")
    deadline = time.monotonic() + 30
    while not (status := ahead_stack.status(job_id)).get("waitingReason"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    waiting_cpu, waiting_requests = window(ahead_stack, worker)
    versions = httpx.get(f"{ahead_stack.gateway}/versions", timeout=30).json()

    assert (status["status"], status["workflowVersion"]) == ("processing", AHEAD)
    assert status["waitingReason"] == f"no live worker has workflow version {AHEAD}"
    assert [s["state"] for s in status["steps"]] == ["pending"] * 5, "nothing ran"
    # Flat: what a task handed back and forth would add (hundreds of requests a second, a
    # busy worker) is not there. The idle window is the yardstick, measured the same way.
    assert waiting_requests <= idle_requests * 1.5 + 20, (idle_requests, waiting_requests)
    assert waiting_cpu <= idle_cpu * 1.5 + 0.5, (idle_cpu, waiting_cpu)
    by_version = {v["version"]: v for v in versions["versions"]}
    assert (by_version[AHEAD]["jobsInFlight"], by_version[AHEAD]["workers"]) == (1, [])
    assert len(by_version[1]["workers"]) == 1, "the stack's worker runs version 1"


def test_a_worker_that_drops_a_version_with_jobs_in_flight_is_refused(
    ahead_stack: LocalStack, files: FileServer
) -> None:
    document = files.serve("/versions-ship.txt", b"Invoice 8\nTotal: 1.00 EUR\n", "text/plain")
    ahead_stack.start_job(document, "ship")  # in flight on version 2, which no worker has
    runner, gateway = CliRunner(), ["--gateway", ahead_stack.gateway]

    dropping = runner.invoke(app, ["versions", "--shipping", "1", *gateway])
    keeping = runner.invoke(app, ["versions", "--shipping", "1,2", *gateway])

    assert dropping.exit_code == 2
    assert f"drops workflow version {AHEAD}, which has" in dropping.stderr
    assert keeping.exit_code == 0, keeping.output
    assert f"v{AHEAD}" in keeping.stdout
