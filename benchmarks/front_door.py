"""Front-door benchmark: POST /process-document → 202 through the local API gateway.

    make bench            (python -m benchmarks.front_door [--requests N] [--concurrency C])

Next to it, in the same run and the same gateway, measured in interleaved rounds: a do-nothing
202 route (the floor: a bare powertools handler), and what a user would pick instead, the same
HTTP front enqueuing one Celery task on valkey (``benchmarks.celery_lambda``). Each function
runs in a pool of execution environments (``DOCFLOW_LAMBDA_CONCURRENCY``), as Lambda runs it.
Target (the cold-start issue): trigger p50 ≤ 1.0 x the Celery enqueue, one request at a time
and 10 in flight. Cold starts: ``benchmarks.cold_start``. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
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
}
TARGET = 1.0  # x the Celery enqueue, p50
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


def run(requests: int, concurrency: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_dir, valkey(Path(tmp_dir)) as redis_url:
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
        try:
            wait_until(lambda: http_ok(f"{base}/health"), 60, "the gateway")
            for path in PATHS.values():  # warm-up
                asyncio.run(load(base + path, 200, concurrency))
            # (route, in flight) -> (latencies, rates); one request at a time shows the cost
            # of a request without any queueing in front of the function's one thread.
            results: dict[tuple[str, int], tuple[list[float], list[float]]] = {
                (name, c): ([], []) for name in PATHS for c in (concurrency, 1)
            }
            cpu = {key: dict.fromkeys(PARTS, 0.0) for key in results}  # ms per request
            for _ in range(rounds):
                for (name, in_flight), (latencies, rates) in results.items():
                    count = requests if in_flight > 1 else requests // 4
                    before = cpu_by_part(gateway.pid, stores)
                    measured, rate = asyncio.run(load(base + PATHS[name], count, in_flight))
                    for part, seconds in spent(before, cpu_by_part(gateway.pid, stores)).items():
                        cpu[name, in_flight][part] += seconds * 1000 / count / rounds
                    latencies.extend(measured)
                    rates.append(rate)
        finally:
            gateway.kill9()
            server.kill9()

    rows = []
    for (name, in_flight), (latencies, rates) in results.items():
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        rows.append(
            [
                LABELS[name],
                str(in_flight),
                f"{p50:.2f}",
                f"{p99:.2f}",
                f"{statistics.median(rates):.0f}",
            ]
        )

    cpu_rows = [[LABELS[name], *(f"{cpu[name, concurrency][part]:.2f}" for part in PARTS),
                 f"{sum(cpu[name, concurrency].values()):.2f}"] for name in PATHS]  # fmt: skip

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
    publish(
        "Front door (trigger Lambda behind the local gateway)",
        command_line("benchmarks.front_door"),
        sections,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(args.requests, args.concurrency, args.rounds)


if __name__ == "__main__":
    main()
