"""Front-door benchmark: POST /process-document → 202 through the local API gateway.

    make bench            (python -m benchmarks.front_door [--requests N] [--concurrency C])

Next to it, in the same run and the same gateway, measured in interleaved rounds: a do-nothing
202 route (the floor: a bare powertools handler), and what a user would pick instead, the same
HTTP front enqueuing one Celery task on valkey (``benchmarks.celery_lambda``). Each function
runs in a pool of execution environments (``DOCFLOW_LAMBDA_CONCURRENCY``), as Lambda runs it.
Target (the cold-start issue): trigger p50 ≤ 1.0 x the Celery enqueue, one request at a time
and 10 in flight. Cold starts: ``benchmarks.cold_start``. Loopback only.

``--against [REV]`` (alone, as ``make bench`` passes it: ``FILED_AT``, the revision that
measured 624 requests/s when that issue was filed) measures the trigger of that revision too,
in the same interleaved rounds: it is checked out in a temporary git worktree with its own
environment (its lockfile), and runs on its own gateway and dev server. Requests/s drift with
the machine's load from run to run; the two sides of one run meet the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil
from docflow_devstack.environments import concurrency as concurrency_setting
from docflow_testing.processes import BIN, Process, free_port, http_ok, resonate_server, wait_until

from benchmarks.common import ROOT, command_line, percentile, publish, table
from benchmarks.peers_stores import valkey

PATHS = {"floor": "/floor", "trigger": "/process-document", "celery": "/celery"}
LABELS = {
    "floor": "do-nothing 202 (floor)",
    "trigger": "POST /process-document",
    "celery": "enqueue a Celery task (valkey)",
    "then": "POST /process-document at {revision}",
}
TARGET = 1.0  # x the Celery enqueue, p50
TARGET_THEN = 2.0  # x the requests/s of the revision measured against, at 10 in flight
# The revision whose make bench measured FILED_RATE requests/s when the cold-start issue was filed.
FILED_AT = "bf5ee05"
FILED_RATE = 624
# Who pays for a request: each process's CPU, by its part in the setup (the machine's cores are
# shared by all of them, so requests/s is bounded by their sum).
PARTS = ["load generator", "gateway", "functions", "store"]


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def cpu_by_part(gateway_pid: int, store_pids: list[int]) -> dict[str, float]:
    """CPU seconds so far of this process, the gateway, its execution environments (by pid:
    one started between two readings counts from its start) and the stores."""
    gateway = psutil.Process(gateway_pid)
    readings = {"load generator": cpu_seconds(psutil.Process()), "gateway": cpu_seconds(gateway),
                "store": sum(cpu_seconds(psutil.Process(pid)) for pid in store_pids)}  # fmt: skip
    for child in gateway.children(recursive=True):
        try:
            readings[f"functions:{child.pid}"] = cpu_seconds(child)
        except psutil.NoSuchProcess:
            continue
    return readings


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    by_part = dict.fromkeys(PARTS, 0.0)
    for key, value in after.items():
        by_part[key.split(":")[0]] += value - before.get(key, 0.0)
    return by_part


def job_body() -> str:
    """A new job of its own requester: fair use is checked (and paid for) on every start, and
    refuses none."""
    job_id = f"bench-{uuid.uuid4().hex}"
    return json.dumps({"jobId": job_id, "documentUrl": "s3://docflow-artifacts/b.pdf",
                       "requesterId": job_id})  # fmt: skip


async def load(url: str, requests: int, concurrency: int) -> tuple[list[float], float]:
    """Per-request latencies (ms) and requests/s for ``requests`` POSTs, ``concurrency`` at once."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            async with gate:
                started = time.perf_counter()
                async with session.post(url, data=job_body(), headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 202, await resp.text()
                latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        elapsed = time.perf_counter() - began
    return latencies, requests / elapsed


@dataclass(frozen=True)
class Front:
    """Where a route is served, and which processes serve it (whose CPU it spends)."""

    url: str
    gateway: int
    stores: list[int]


@contextlib.contextmanager
def front_at(revision: str, tmp: Path) -> Iterator[Front]:
    """The trigger as ``revision`` had it: its gateway and dev server from a worktree of it."""
    tree = tmp / "then"
    git = ["git", "-C", str(ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", str(tree), revision], check=True,
                   capture_output=True)  # fmt: skip
    processes: list[Process] = []
    try:
        subprocess.run([str(tree / "scripts" / "uv"), "sync", "--frozen", "--all-packages",
                        "--quiet"], cwd=tree, check=True)  # fmt: skip
        bin_dir = tree / ".venv" / "bin"
        store_port, port = free_port(), free_port()
        processes.append(Process(
            [str(bin_dir / "docflow-resonate"), "serve", "--server-port", str(store_port),
             "--storage-sqlite-path", str(tmp / "then.db"), "--timeouts-poll-interval", "100"],
            tmp / "then-resonate.log").start())  # fmt: skip
        resonate_url = f"http://127.0.0.1:{store_port}"
        wait_until(lambda: http_ok(f"{resonate_url}/health"), 20, "the dev server then")
        processes.append(Process(
            [str(bin_dir / "docflow-gateway"), "--port", str(port)], tmp / "then-gateway.log",
            env={"RESONATE_URL": resonate_url, "PYTHONPATH": str(tree)}).start())  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{url}/health"), 60, "the gateway then")
        yield Front(url + PATHS["trigger"], processes[1].pid, [processes[0].pid])
    finally:
        for process in processes:
            process.kill9()
        subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False,
                       capture_output=True)  # fmt: skip


def run(requests: int, concurrency: int, rounds: int, against: str | None) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp_dir,
        valkey(Path(tmp_dir)) as redis_url,
        contextlib.ExitStack() as stack,
    ):
        tmp = Path(tmp_dir)
        server, resonate_url = resonate_server(str(tmp / "r.db"), tmp / "resonate.log")
        port = free_port()
        gateway = Process(
            [str(BIN / "docflow-gateway"), "--port", str(port),
             "--route", "POST", "/floor", "benchmarks.floor_lambda:lambda_handler",
             "--route", "POST", "/celery", "benchmarks.celery_lambda:lambda_handler"],
            tmp / "gateway.log",
            # The trigger as deployed: fair use counted in Redis (the Celery broker's valkey).
            env={"RESONATE_URL": resonate_url, "REDIS_URL": redis_url,
                 "CELERY_BROKER_URL": redis_url, "PYTHONPATH": str(ROOT)},
        ).start()  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        # valkey and the Resonate dev server
        stores = [p.pid for p in psutil.Process().children() if p.pid != gateway.pid]
        stack.callback(gateway.kill9)
        stack.callback(server.kill9)
        wait_until(lambda: http_ok(f"{base}/health"), 60, "the gateway")
        fronts = {name: Front(base + path, gateway.pid, stores) for name, path in PATHS.items()}
        if against:
            fronts["then"] = stack.enter_context(front_at(against, tmp))
        for front in fronts.values():  # warm-up
            asyncio.run(load(front.url, 200, concurrency))
        # (route, in flight) -> (latencies, rates); one request at a time shows the cost of a
        # request without any queueing in front of the function.
        results: dict[tuple[str, int], tuple[list[float], list[float]]] = {
            (name, c): ([], []) for name in fronts for c in (concurrency, 1)
        }
        cpu = {key: dict.fromkeys(PARTS, 0.0) for key in results}  # ms per request
        for _ in range(rounds):
            for (name, in_flight), (latencies, rates) in results.items():
                count = requests if in_flight > 1 else requests // 4
                front = fronts[name]
                before = cpu_by_part(front.gateway, front.stores)
                measured, rate = asyncio.run(load(front.url, count, in_flight))
                after = cpu_by_part(front.gateway, front.stores)
                for part, seconds in spent(before, after).items():
                    cpu[name, in_flight][part] += seconds * 1000 / count / rounds
                latencies.extend(measured)
                rates.append(rate)

    label = {name: text.format(revision=against) for name, text in LABELS.items()}
    rows = []
    for (name, in_flight), (latencies, rates) in results.items():
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        rows.append(
            [
                label[name],
                str(in_flight),
                f"{p50:.2f}",
                f"{p99:.2f}",
                f"{statistics.median(rates):.0f}",
            ]
        )

    cpu_rows = [[label[name], *(f"{cpu[name, concurrency][part]:.2f}" for part in PARTS),
                 f"{sum(cpu[name, concurrency].values()):.2f}"] for name in fronts]  # fmt: skip

    def p50_ratio(name: str, in_flight: int, against: str) -> float:
        measured = percentile(results[name, in_flight][0], 50)
        return measured / percentile(results[against, in_flight][0], 50)

    verdicts = []
    for in_flight in (1, concurrency):
        ratio = p50_ratio("trigger", in_flight, "celery")
        verdicts.append(f"{ratio:.2f} at {in_flight} in flight "
                        f"({'met' if ratio <= TARGET else 'NOT met'})")  # fmt: skip
    floor = ", ".join(f"{p50_ratio('trigger', c, 'floor'):.2f} at {c}" for c in (1, concurrency))
    sections = [
        f"### POST → 202 through the local gateway ({requests} requests x {rounds} rounds at "
        f"{concurrency} in flight; {requests // 4} x {rounds} one at a time)",
        table(["route", "in flight", "p50 ms", "p99 ms", "requests/s"], rows),
        f"Target: trigger p50 ≤ {TARGET:g} x the Celery enqueue's — measured "
        f"{'; '.join(verdicts)}. Against the do-nothing floor: {floor} in flight. The trigger "
        "validates the job, admits it under its requester's fair use (one round trip to valkey: "
        "one Lua script for the start rate and the jobs in flight; each job here is its own "
        "requester's, so none is refused) and makes one Resonate round trip: it creates the "
        "workflow's durable root promise (an SQLite commit on the dev server), whose answer also "
        "carries the job it was first started with, to detect a conflicting body. The Celery "
        "front validates the "
        "same body the same way and makes one round trip to valkey (memory only): it pushes the "
        "task message, which nothing makes durable or unique per job. The floor makes none. "
        f"Each function runs in up to {concurrency_setting()} execution environments (separate "
        "processes, `DOCFLOW_LAMBDA_CONCURRENCY`), as Lambda scales a function out.",
        f"CPU ms per request at {concurrency} in flight, by process (user + system; the store is "
        "the Resonate dev server and valkey, each route using one). Every process shares the "
        f"machine's {os.cpu_count()} cores, so requests/s at {concurrency} in flight is bounded "
        "by cores / total:",
        table(["route", *PARTS, "total"], cpu_rows),
    ]
    if against:
        rate = statistics.median(results["trigger", concurrency][1])
        then = statistics.median(results["then", concurrency][1])
        met = "met" if rate >= TARGET_THEN * then else "NOT met"
        filed_wanted = TARGET_THEN * FILED_RATE if against == FILED_AT else None
        filed = (
            f" {FILED_AT} measured {FILED_RATE} requests/s when the issue was filed; its gateway "
            "ran each function on one thread in its own process (that CPU counts as the "
            "gateway's), and its trigger used the Resonate SDK."
        )
        sections.append(
            f"Target: requests/s at {concurrency} in flight ≥ {TARGET_THEN:g} x the trigger's at "
            f"{against} — measured {rate:.0f} against {then:.0f}, {rate / then:.2f} x ({met})."
            + (filed if against == FILED_AT else "")
            + " "
            + cpu_bound(cpu["trigger", concurrency], TARGET_THEN * then, filed_wanted)
        )
    publish(
        "Front door (trigger Lambda behind the local gateway)",
        command_line("benchmarks.front_door"),
        sections,
    )


def cpu_bound(spent_ms: dict[str, float], wanted: float, filed_wanted: float | None) -> str:
    """What the cores allow: the CPU per request at which ``wanted`` requests/s would keep every
    core busy all the time, against what the trigger spends, with and without the load
    generator (a client elsewhere would not share the cores)."""
    cores = os.cpu_count() or 1
    total = sum(spent_ms.values())
    served = total - spent_ms["load generator"]
    filed = (f" ({cores * 1000 / filed_wanted:.2f} ms for {filed_wanted:.0f}, twice the rate the "
             "issue measured)" if filed_wanted else "")  # fmt: skip
    return (
        f"What the cores allow: at {wanted:.0f} requests/s, {cores} cores leave at most "
        f"{cores * 1000 / wanted:.2f} ms of CPU per request{filed}, every process counted and no "
        f"core ever idle. The trigger spends {total:.2f} ms ({served:.2f} without the load "
        f"generator): that caps it at {cores * 1000 / total:.0f} requests/s here "
        f"({cores * 1000 / served:.0f} if the load generator cost nothing)."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--against", metavar="REV", nargs="?", const=FILED_AT,
        help=f"also measure this revision's trigger (without REV: {FILED_AT})",
    )  # fmt: skip
    args = parser.parse_args()
    run(args.requests, args.concurrency, args.rounds, args.against)


if __name__ == "__main__":
    main()
