"""Workflow versions on the real local stack: deploying while jobs run.

A rolling deploy: jobs start at version 1 on worker A (v1 only, steps slowed); worker B (v1 and
v2) starts; the trigger is redeployed to start jobs at v2; A is killed mid-step. The old jobs
finish on B with version 1's steps and result, the new ones run version 2's six; no step that
was done ran again, and each job's history replays against its version's code (so no step was
handed another's result).

A trigger deployed ahead of its workers: a job at a version no live worker has waits in its
version's own group, which no worker listens to, so nobody spins (the worker's CPU and the
server's request rate stay as they were, for 30 s); the status says which version is missing
within DOCFLOW_STUCK_AFTER, ``GET /versions`` lists the job with no worker, and starting a
worker with that version finishes it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docflow_cli.cli import app
from docflow_samples import INVOICE_LINES
from docflow_testing.stack import STEPS, STEPS_V1, FileServer, LocalStack, running_stack
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-versions-stack")]

IDLE_SECONDS = 10  # the yardstick: the stack with nothing to do
WAITING_SECONDS = 30  # a task no worker can take, waiting
INVOICE = "\n".join(INVOICE_LINES).encode()  # a total, a date and a currency to verify


@pytest.fixture(scope="module")
def ahead_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The trigger starts jobs at version 2; the stack's worker has only version 1."""
    settings = {"DOCFLOW_WORKFLOW_VERSION": "2", "DOCFLOW_WORKER_VERSIONS": "1",
                "DOCFLOW_STUCK_AFTER": "2"}  # fmt: skip
    yield from running_stack(tmp_path_factory, "versions-stack", **settings)


@pytest.fixture(scope="module")
def rolling_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Before the deploy: the trigger starts jobs at version 1, on worker A (version 1 only),
    whose steps each take a second more, so a deploy catches jobs mid-pipeline."""
    settings = {"DOCFLOW_WORKFLOW_VERSION": "1", "DOCFLOW_WORKER_VERSIONS": "1",
                "DOCFLOW_DEMO_STEP_DELAY": "1"}  # fmt: skip
    yield from running_stack(tmp_path_factory, "rolling-stack", **settings)


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


def rates(stack: LocalStack, worker: int, seconds: float) -> tuple[float, float]:
    """The worker's CPU seconds and the server's requests, per second, over ``seconds``."""
    cpu, requests = cpu_seconds(worker), server_requests(stack)
    time.sleep(seconds)
    return (cpu_seconds(worker) - cpu) / seconds, (server_requests(stack) - requests) / seconds


def test_a_job_at_a_version_no_worker_has_waits_without_spinning_until_a_worker_has_it(
    ahead_stack: LocalStack, files: FileServer, tmp_path: Path
) -> None:
    worker = int((ahead_stack.state_dir / "run" / "worker.pid").read_text())
    document = files.serve("/versions.txt", INVOICE, "text/plain")
    idle_cpu, idle_requests = rates(ahead_stack, worker, IDLE_SECONDS)

    job_id = ahead_stack.start_job(document, "ahead")
    accepted = time.monotonic()
    waiting = ahead_stack.wait_until(job_id, lambda s: s.get("waitingReason"))
    said_within = time.monotonic() - accepted
    waiting_cpu, waiting_requests = rates(ahead_stack, worker, WAITING_SECONDS)
    versions = httpx.get(f"{ahead_stack.gateway}/versions", timeout=30).json()

    assert (waiting["status"], waiting["workflowVersion"]) == ("processing", 2)
    assert waiting["waitingReason"] == "no live worker has workflow version 2"
    assert said_within < 2 + 5, "within DOCFLOW_STUCK_AFTER (2 s), and a poll or two"
    assert [s["state"] for s in waiting["steps"]] == ["pending"] * len(STEPS), "nothing ran"
    # Flat: what a task handed back and forth would add (hundreds of requests a second, a
    # busy worker) is not there. The idle window is the yardstick, measured the same way.
    assert waiting_requests <= idle_requests * 1.5 + 2, (idle_requests, waiting_requests)
    assert waiting_cpu <= idle_cpu * 1.5 + 0.05, (idle_cpu, waiting_cpu)
    by_version = {v["version"]: v for v in versions["versions"]}
    assert (by_version[2]["jobsInFlight"], by_version[2]["workers"]) == (1, [])
    assert len(by_version[1]["workers"]) == 1, "the stack's worker runs version 1"

    upgraded = ahead_stack.another_worker(tmp_path / "worker-v2.log", "1,2")
    try:
        done = ahead_stack.wait_finished(job_id, timeout=60)
    finally:
        upgraded.kill9()

    assert (done["status"], done["workflowVersion"]) == ("done", 2), done
    assert [s["name"] for s in done["steps"]] == STEPS
    assert done["waitingReason"] is None


def test_a_worker_that_drops_a_version_with_jobs_in_flight_is_refused(
    ahead_stack: LocalStack, files: FileServer
) -> None:
    document = files.serve("/versions-ship.txt", b"Invoice 8\nTotal: 1.00 EUR\n", "text/plain")
    ahead_stack.start_job(document, "ship")  # in flight on version 2, which no worker has
    runner, gateway = CliRunner(), ["--gateway", ahead_stack.gateway]

    dropping = runner.invoke(app, ["versions", "--shipping", "1", *gateway])
    keeping = runner.invoke(app, ["versions", "--shipping", "1,2", *gateway])

    assert dropping.exit_code == 2
    assert "drops workflow version 2, which has" in dropping.stderr
    assert keeping.exit_code == 0, keeping.output
    assert "v2" in keeping.stdout


def redeploy_trigger(stack: LocalStack, version: int) -> None:
    """The trigger, redeployed to start jobs at ``version``: the local gateway (which runs the
    front doors' functions) restarted with the new setting."""
    stack.env["DOCFLOW_WORKFLOW_VERSION"] = str(version)
    stack.kill9("gateway")
    stack.run("up")  # brings back exactly what is missing: the gateway


def test_a_rolling_deploy_finishes_old_jobs_on_their_version_and_new_ones_on_the_new(
    rolling_stack: LocalStack, files: FileServer, tmp_path: Path
) -> None:
    document = files.serve("/rolling.txt", INVOICE, "text/plain")
    old = [rolling_stack.start_job(document, "old") for _ in range(3)]
    rolling_stack.wait_until(old[0], lambda s: s["step"] == "analyze")

    worker_b = rolling_stack.another_worker(tmp_path / "worker-b.log", "1,2")
    try:
        redeploy_trigger(rolling_stack, 2)
        new = [rolling_stack.start_job(document, "new") for _ in range(2)]
        rolling_stack.kill9("worker")  # worker A, mid-step
        # The step each old job was in when A died: it shows until another worker takes it.
        in_step = {job_id: rolling_stack.status(job_id)["step"] for job_id in old}
        finished = {job_id: rolling_stack.wait_finished(job_id, timeout=120)
                    for job_id in old + new}  # fmt: skip
    finally:
        worker_b.kill9()

    for job_id in old:
        status = finished[job_id]
        assert (status["status"], status["workflowVersion"]) == ("done", 1), status
        assert [s["name"] for s in status["steps"]] == STEPS_V1
        assert "checks" not in status["result"], "version 1's result"
        # A step done before the deploy did not run again; only the one A was killed in may
        # have run twice (its checkpoint was not written).
        attempts = rolling_stack.step_attempts(job_id)
        again = {name for name, count in attempts.items() if count > 1}
        assert again <= {in_step[job_id]}, (in_step[job_id], attempts)
    for job_id in new:
        status = finished[job_id]
        assert (status["status"], status["workflowVersion"]) == ("done", 2), status
        assert [s["name"] for s in status["steps"]] == STEPS
        assert rolling_stack.step_attempts(job_id) == dict.fromkeys(STEPS, 1)
        checks = {check["field"]: check["passed"] for check in status["result"]["checks"]}
        assert checks == {"total": True, "date": True, "currency": True}, status["result"]

    # Each job's recorded history replays against its own version's code: each version 2
    # checkpoint names the step that wrote it, each version 1 one holds what its step returns,
    # in the order that version runs them.
    histories = tmp_path / "histories"
    histories.mkdir()
    runner, gateway = CliRunner(), ["--gateway", rolling_stack.gateway]
    for job_id in old + new:
        exported = runner.invoke(app, ["export-history", job_id, "-o",
                                       str(histories / f"{job_id}.json"), *gateway])  # fmt: skip
        assert exported.exit_code == 0, exported.output
    checked = runner.invoke(app, ["replay-check", str(histories)])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.count(" (v1): 6 calls replay\n") == len(old), checked.stdout
    assert checked.stdout.count(" (v2): 7 calls replay\n") == len(new), checked.stdout
