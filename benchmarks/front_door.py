"""Front-door benchmark: POST /process-document → 202 through the local API gateway.

    make bench            (python -m benchmarks.front_door [--requests N] [--concurrency C])

Next to it, in the same run and the same gateway process, measured in interleaved rounds: a
do-nothing 202 route (the floor: a bare powertools handler), and the common non-durable
alternative, the same HTTP front enqueuing one Celery task on valkey (``benchmarks.celery_lambda``).
Then the cold start of each handler module (import + first invocation). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import aiohttp
from docflow_devstack.package import build_zip
from docflow_testing.processes import BIN, Process, free_port, http_ok, resonate_server, wait_until

from benchmarks.common import ROOT, command_line, percentile, publish, table
from benchmarks.peers_stores import valkey

PATHS = {"floor": "/floor", "trigger": "/process-document", "celery": "/celery"}
LABELS = {
    "floor": "do-nothing 202 (floor)",
    "trigger": "POST /process-document",
    "celery": "enqueue a Celery task (valkey)",
}
COLD_START = """
import time
started = time.perf_counter()
from {module} import lambda_handler
imported = time.perf_counter()
from docflow_devstack.functions import LambdaContext
event = {event}
answer = lambda_handler(event, LambdaContext("bench"))
assert answer["statusCode"] == 202, answer
done = time.perf_counter()
print((imported - started) * 1000, (done - imported) * 1000)
"""


def job_body() -> str:
    job_id = f"bench-{uuid.uuid4().hex}"
    return json.dumps({"jobId": job_id, "documentUrl": "s3://docflow-artifacts/b.pdf",
                       "requesterId": "bench"})  # fmt: skip


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


def cold_start(module: str, path: str) -> tuple[float, float]:
    """Median import and first-invocation time (ms) of a handler module in a fresh interpreter."""
    event = {"version": "2.0", "rawPath": path, "rawQueryString": "",
             "headers": {"content-type": "application/json"},
             "requestContext": {"http": {"method": "POST", "path": path}, "stage": "$default"},
             "body": job_body(), "isBase64Encoded": False}  # fmt: skip
    samples = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", COLD_START.format(module=module, event=repr(event))],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        samples.append(tuple(float(x) for x in out.stdout.split()[-2:]))
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


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
            env={"RESONATE_URL": resonate_url, "CELERY_BROKER_URL": redis_url,
                 "PYTHONPATH": str(ROOT)},
        ).start()  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: http_ok(f"{base}/health"), 60, "the gateway")
            for path in PATHS.values():  # warm-up
                asyncio.run(load(base + path, 200, concurrency))
            # (route, in flight) -> (latencies, rates); one request at a time shows the cost
            # of a request without any queueing in front of the function's one thread.
            results: dict[tuple[str, int], tuple[list[float], list[float]]] = {
                (name, c): ([], []) for name in PATHS for c in (concurrency, 1)
            }
            for _ in range(rounds):
                for (name, in_flight), (latencies, rates) in results.items():
                    count = requests if in_flight > 1 else requests // 4
                    measured, rate = asyncio.run(load(base + PATHS[name], count, in_flight))
                    latencies.extend(measured)
                    rates.append(rate)
        finally:
            gateway.kill9()
            server.kill9()

        # Cold starts need Resonate (Celery: valkey) for the first invocation.
        server, resonate_url = resonate_server(str(tmp / "r2.db"), tmp / "resonate2.log")
        try:
            os.environ.update(RESONATE_URL=resonate_url, CELERY_BROKER_URL=redis_url)
            trigger_cold = cold_start("docflow_trigger.handlers.http", PATHS["trigger"])
            celery_cold = cold_start("benchmarks.celery_lambda", PATHS["celery"])
            floor_cold = cold_start("benchmarks.floor_lambda", PATHS["floor"])
        finally:
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

    def p50_ratio(name: str, in_flight: int) -> float:
        measured = percentile(results[name, in_flight][0], 50)
        return measured / percentile(results["floor", in_flight][0], 50)

    ratio, unloaded_ratio = p50_ratio("trigger", concurrency), p50_ratio("trigger", 1)
    celery_ratio, celery_unloaded = p50_ratio("celery", concurrency), p50_ratio("celery", 1)
    verdict = "met" if ratio <= 1.5 else "NOT met"
    sections = [
        f"### POST → 202 through the local gateway ({requests} requests x {rounds} rounds at "
        f"{concurrency} in flight; {requests // 4} x {rounds} one at a time)",
        table(["route", "in flight", "p50 ms", "p99 ms", "requests/s"], rows),
        f"Target: trigger p50 ≤ 1.5 x floor p50 — measured {ratio:.2f} at {concurrency} in "
        f"flight, {verdict}; {unloaded_ratio:.2f} one request at a time. The Celery front "
        f"measures {celery_ratio:.2f} x floor at {concurrency} in flight, {celery_unloaded:.2f} "
        "one at a time. The trigger validates the job and makes one Resonate round trip: it "
        "creates the workflow's durable root promise (an SQLite commit on the dev server), "
        "whose answer also carries the job it was first started with, to detect a conflicting "
        "body. The Celery front validates the same body the same way and makes one round trip "
        "to valkey (memory only): it pushes the task message, which nothing makes durable or "
        "unique per job. The floor makes none. The local gateway runs each function on one "
        "thread (one warm container), so requests to it queue.",
        "### Cold start (fresh interpreter: import, then first invocation; median of 5)",
        table(
            ["handler", "import ms", "first invocation ms"],
            [
                [
                    "trigger (docflow_trigger.handlers.http)",
                    f"{trigger_cold[0]:.0f}",
                    f"{trigger_cold[1]:.0f}",
                ],
                [
                    "Celery front (benchmarks.celery_lambda)",
                    f"{celery_cold[0]:.0f}",
                    f"{celery_cold[1]:.0f}",
                ],
                ["bare powertools handler", f"{floor_cold[0]:.0f}", f"{floor_cold[1]:.0f}"],
            ],
        ),
        "Celery imports most of what sends a task (kombu's Redis transport, its message "
        "protocol) on the first send, so that cost lands on the first invocation.",
        "### Lambda zip size (`make build`: Linux x86_64, Python 3.12)",
        table(["zip", "compressed MB", "unzipped MB"], zip_sizes()),
    ]
    publish(
        "Front door (trigger Lambda behind the local gateway)",
        command_line("benchmarks.front_door"),
        sections,
    )


def zip_sizes() -> list[list[str]]:
    """Each Lambda zip, built as ``make build`` builds it (in a scratch directory)."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for service in ("trigger-lambda", "status-lambda"):
            archive = build_zip(service, Path(scratch))
            with zipfile.ZipFile(archive) as bundle:
                unzipped = sum(info.file_size for info in bundle.infolist())
            mb = 1024 * 1024
            rows.append([service, f"{archive.stat().st_size / mb:.1f}", f"{unzipped / mb:.1f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(args.requests, args.concurrency, args.rounds)


if __name__ == "__main__":
    main()
