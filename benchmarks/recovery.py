"""Recovery benchmark: a worker killed with kill -9 mid-step, until the interrupted step starts
again on another worker, for task TTLs (DOCFLOW_TASK_TTL) of 2 s and 10 s (the default).

    make bench    (python -m benchmarks.recovery [--ttls 2 10] [--kills N] [--restart-kills N])

For each TTL the real local stack runs (``docflow_testing.stack.LocalStack``) with every step
sleeping DOCFLOW_DEMO_STEP_DELAY first, so that a kill lands mid-step. A job is submitted; at a
random point after its first step started, the worker running it is killed with SIGKILL.
Recovery is the time from the kill until another worker began that step again (the workers'
progress record of the job: the latest attempt's worker, host:pid, and start time, epoch ms);
then the job is canceled. Two cases:

- standby: a second worker process already runs (the benchmark starts it next to the stack's,
  both writing the stack's worker.log); the survivor takes the task over.
- restart: the stack's only worker is killed and ``docflow-stack up`` starts it again at once.

Loopback only; the stack runs on free ports in a temporary state directory.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import tempfile
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
from docflow_devstack.stack import TASKS_RETRY_TIMEOUT_MS
from docflow_resonate_dev.cli import parse_args as resonate_server_config
from docflow_samples import invoice_pdf
from docflow_shared.progress import StepProgress
from docflow_testing.processes import Process, wait_until
from docflow_testing.stack import FileServer, LocalStack
from resonate.resonate import HEARTBEAT_INTERVAL_DIVISOR

from benchmarks.common import command_line, publish, table

STEP = "download"  # the first step: it starts as the worker takes the job
KILL_MARGIN = 0.5  # each step sleeps a heartbeat period plus this first: the kill lands in it
WAIT_SECONDS = 120
HEADERS = ["task TTL s", "case", "kills", "min s", "median s", "max s", "median / TTL",
           "restart (`docflow-stack up`) took s, median"]  # fmt: skip


@dataclass(frozen=True)
class Recovery:
    seconds: float  # from the kill to the step's start on another worker
    restarted: float | None  # restart case: from the kill until `docflow-stack up` was done


def step_started(stack: LocalStack, job_id: str, unless_pid: int | None = None) -> StepProgress:
    """STEP's latest attempt for ``job_id``, once one began (on a worker other than
    ``unless_pid``)."""
    found: list[StepProgress] = []

    def seen() -> bool:
        step = stack.progress(job_id).steps.get(STEP)
        found[:] = [step] if step and step.worker and worker_pid(step) != unless_pid else []
        return bool(found)

    wait_until(seen, WAIT_SECONDS, f"{STEP} of {job_id} to start")
    return found[0]


def worker_pid(step: StepProgress) -> int:
    return int(str(step.worker).rsplit(":", 1)[1])  # a worker's id is host:pid


def start_standby(stack: LocalStack) -> Process:
    """A second worker in the stack's group, configured as ``docflow-stack up`` configures its
    own (the stack's settings plus the services' URLs it adds), writing to the same log."""
    log = stack.state_dir / "logs" / "worker.log"
    offset = log.stat().st_size
    standby = Process(stack.command(), log, env=stack.environment()).start()
    try:
        wait_until(lambda: b"worker ready" in log.read_bytes()[offset:], WAIT_SECONDS,
                   "the standby worker")  # fmt: skip
    except TimeoutError:
        standby.kill9()
        raise
    return standby


@dataclass
class Workers:
    """The worker group under test: the stack's worker, and in the standby case a second one."""

    stack: LocalStack
    standby: Process | None = None

    def kill(self, pid: int) -> None:
        if self.standby is not None and pid == self.standby.pid:
            self.standby.kill9()
        else:
            killed = self.stack.signal("worker", signal.SIGKILL)
            assert killed == pid, f"the stack's worker is {killed}, not {pid}"

    def restore(self) -> None:
        """Start again the worker the last kill took: the standby, or the stack's own."""
        if self.standby is not None and not self.standby.alive():
            self.standby = start_standby(self.stack)
        else:
            self.stack.run("up")

    def stop_standby(self) -> None:
        if self.standby is not None:
            self.standby.kill9()
            self.standby = None


def recover_once(workers: Workers, files: FileServer, ttl: float) -> Recovery:
    """Kill the worker running STEP of a new job; time until another worker starts STEP again."""
    stack = workers.stack
    job_id = f"recovery-{uuid.uuid4().hex[:8]}"
    url = files.serve(f"/{job_id}.pdf", invoice_pdf(), "application/pdf")
    answer = stack.submit({"jobId": job_id, "documentUrl": url, "requesterId": "bench"})
    assert answer.status_code == 202, answer.text
    victim = worker_pid(step_started(stack, job_id))
    # The worker renewed its lease when it took the job and renews it every heartbeat period:
    # killing at a random point of that period leaves a random part of the lease, as a real
    # crash would (STEP lasts longer than a period).
    time.sleep(random.uniform(0, heartbeat_period(ttl)))
    killed_at = time.time()
    workers.kill(victim)
    restarted = None
    if workers.standby is None:  # the restart case: bring the only worker back at once
        stack.run("up")
        restarted = time.time() - killed_at
    resumed = step_started(stack, job_id, unless_pid=victim)
    # The rest of the job is not measured: cancel it rather than wait for its long steps.
    canceled = httpx.post(f"{stack.gateway}/jobs/{job_id}/cancel", timeout=30)
    assert canceled.status_code == 202, canceled.text
    if workers.standby is not None:
        workers.restore()
    outcome = stack.wait_finished(job_id, WAIT_SECONDS)
    assert outcome["status"] == "canceled", outcome
    assert resumed.latest_started_at_ms is not None
    return Recovery(resumed.latest_started_at_ms / 1000 - killed_at, restarted)


def heartbeat_period(ttl: float) -> float:
    return ttl / HEARTBEAT_INTERVAL_DIVISOR


def measure(ttl: float, kills: int, restart_kills: int) -> dict[str, list[Recovery]]:
    """Recoveries by case, on a stack of its own whose workers hold leases for ``ttl`` s."""
    results: dict[str, list[Recovery]] = {}
    with tempfile.TemporaryDirectory() as tmp, closing(FileServer()) as files:
        # LocalStack.up stops what it started if it fails; from here on, down stops it all.
        step_seconds = heartbeat_period(ttl) + KILL_MARGIN
        stack = LocalStack.up(Path(tmp) / "stack", DOCFLOW_TASK_TTL=f"{ttl:g}",
                              DOCFLOW_DEMO_STEP_DELAY=f"{step_seconds:g}")  # fmt: skip
        workers = Workers(stack)
        try:
            workers.standby = start_standby(stack)
            results["standby worker"] = [recover_once(workers, files, ttl) for _ in range(kills)]
            workers.stop_standby()
            results["restart worker"] = [
                recover_once(workers, files, ttl) for _ in range(restart_kills)
            ]
        finally:
            workers.stop_standby()
            stack.down()
    return results


def run(ttls: list[float], kills: int, restart_kills: int) -> None:
    _, server, _ = resonate_server_config(["serve", "--storage-sqlite-path", ":memory:"])
    sweep, retry = server.poll_interval_ms / 1000, TASKS_RETRY_TIMEOUT_MS / 1000
    rows = []
    for ttl in ttls:
        for case, recoveries in measure(ttl, kills, restart_kills).items():
            seconds = [recovery.seconds for recovery in recoveries]
            restarts = [r.restarted for r in recoveries if r.restarted is not None]
            rows.append([
                f"{ttl:g}", case, str(len(seconds)), f"{min(seconds):.1f}",
                f"{statistics.median(seconds):.1f}", f"{max(seconds):.1f}",
                f"{statistics.median(seconds) / ttl:.2f}",
                f"{statistics.median(restarts):.1f}" if restarts else "-",
            ])  # fmt: skip
            print(rows[-1], flush=True)
    divisor = HEARTBEAT_INTERVAL_DIVISOR
    sections = [
        f"### kill -9 of the worker running `{STEP}` → `{STEP}` starts again on another worker",
        table(HEADERS, rows),
        f"From the kill until another worker began `{STEP}` (the job's first step) again, as "
        f"the workers' progress record of the job says. Each step first sleeps TTL / "
        f"{divisor} + {KILL_MARGIN:g} s "
        f"(`DOCFLOW_DEMO_STEP_DELAY`), and the kill comes at a random point of the heartbeat "
        f"period after the step started, so the lease left at the kill is spread over TTL / "
        f"{divisor} .. TTL, as for a crash at any time. *standby worker*: a second worker "
        f"process was already running. *restart worker*: the only worker was killed and "
        f"`docflow-stack up` started it again at once.",
        f"What dominates: the SDK renews a task's lease every TTL / {divisor}, so a killed "
        f"worker's lease still has TTL / {divisor} .. TTL to run. The dev server sweeps for lapsed "
        f"leases every {sweep:g} s (`--timeouts-poll-interval`) and sends a lapsed task at once "
        f"to a live worker of the group, which takes it and replays the workflow from its "
        f"recorded steps. With a standby worker that is all: expect TTL / {divisor} .. TTL + "
        f"{sweep:g} s, plus well under a second for the new worker to start the step. If no "
        f"worker of the group is connected when the lease lapses -- the restarted worker is not "
        f"back yet -- that message finds nobody and the task waits for its retry timer "
        f"(`--tasks-retry-timeout`: {retry:g} s in `make up`'s stack, 30 s by default): "
        f"recovery becomes the lease plus up to {retry:g} s. "
        f"So a restarted worker recovers within about one TTL only when it is back before the "
        f"lease lapses, which a short TTL makes unlikely; a standby worker (or a shorter retry "
        f"timeout) avoids the wait.",
    ]
    publish("Recovery after kill -9 (real local stack)", command_line("benchmarks.recovery"),
            sections)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ttls", type=float, nargs="+", default=[2, 10])
    parser.add_argument("--kills", type=int, default=5, help="per TTL, standby case")
    parser.add_argument("--restart-kills", type=int, default=2, help="per TTL, restart case")
    args = parser.parse_args()
    run(args.ttls, args.kills, args.restart_kills)


if __name__ == "__main__":
    main()
