"""Dev server benchmark: 3-step workflows/s as the store grows, vs the SDK's in-process reference.

    make bench            (python -m benchmarks.resonate_server [--workflows N])

For each store size (1k, 20k, 100k settled promises already present) it starts the dev server
on that store and one worker process, then times N no-op 3-step workflows started by a client
process over HTTP. The same workload runs against the SDK's in-process reference server
(``LocalConnection``) holding the same number of settled promises. Last, promise.create latency
over HTTP. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
from docflow_resonate_dev.engine import Engine
from docflow_testing.processes import Process, free_port, resonate_server, wait_until
from resonate.connections.local import DurablePromise, LocalConnection
from resonate.resonate import Resonate

from benchmarks.common import command_line, percentile, publish, table
from benchmarks.noop_worker import noop_total, register

SIZES = [1_000, 20_000, 100_000]
STEPS = 3
CONCURRENCY = 20
FAR = 4_000_000_000_000


def prefill_store(store: str, start: int, stop: int) -> None:
    """Settled promises ``bench-fill-<i>`` in the store file (the way a long-running installation
    accumulates them), written by the server's engine itself while no server runs."""
    engine = Engine(store)
    now = int(time.time() * 1000)
    for i in range(start, stop):
        promise_id = f"bench-fill-{i}"
        engine.apply(now, {"kind": "promise.create", "id": promise_id, "timeoutAt": FAR})
        engine.apply(now, {"kind": "promise.settle", "id": promise_id, "state": "resolved"})
    engine.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one self-contained file to copy
    engine.close()


async def timed_workflows(  # type: ignore[no-untyped-def]
    start_one, count: int, steps: int = STEPS, in_flight: int = CONCURRENCY
) -> float:
    """Workflows per second for ``count`` workflows of ``steps`` steps, ``in_flight`` at once."""
    gate = asyncio.Semaphore(in_flight)

    async def one(i: int) -> None:
        async with gate:
            assert await start_one(i) == noop_total(steps)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.perf_counter() - started)


async def http_rate(
    url: str, count: int, steps: int = STEPS, in_flight: int = CONCURRENCY
) -> float:
    """Workflows/s of the worker group at ``url``, started by this process's client."""
    client = Resonate(url=url, group="bench-client")
    run_id = uuid.uuid4().hex[:8]
    workers = client.options(target="workers")

    async def start_one(i: int) -> int:
        return int(await workers.rpc(f"bench-{run_id}-{i}", "noop_steps", steps).result())

    try:
        await timed_workflows(start_one, 20, steps, in_flight)  # warm-up: connections, caches
        return await timed_workflows(start_one, count, steps, in_flight)
    finally:
        await client.stop()


async def reference_rate(settled: int, count: int) -> float:
    resonate = Resonate()  # no URL: the SDK's in-process reference server
    register(resonate)
    network = resonate._network
    assert isinstance(network, LocalConnection)
    now = int(time.time() * 1000)
    for i in range(settled):
        promise_id = f"bench-fill-{i}"
        network.state.promises[promise_id] = DurablePromise(
            id=promise_id, state="resolved", param=None, value=None, tags={},
            timeout_at=FAR, created_at=now, settled_at=now, awaiters=set(), subscribers=set(),
        )  # fmt: skip
    run_id = uuid.uuid4().hex[:8]

    async def start_one(i: int) -> int:
        return int(await resonate.run(f"ref-{run_id}-{i}", "noop_steps", STEPS).result())

    try:
        await timed_workflows(start_one, 20)
        return await timed_workflows(start_one, count)
    finally:
        await resonate.stop()


async def create_latencies(url: str, count: int) -> list[float]:
    envelope = {"kind": "promise.create", "head": {"corrId": "b", "version": "2026-04-01"}}
    out: list[float] = []
    async with aiohttp.ClientSession() as session:
        for i in range(count):
            body = json.dumps({**envelope, "data": {"id": f"lat-{uuid.uuid4().hex}-{i}",
                                                     "timeoutAt": FAR}})  # fmt: skip
            started = time.perf_counter()
            async with session.post(url + "/", data=body) as resp:
                await resp.read()
                assert resp.status == 201
            out.append((time.perf_counter() - started) * 1000)
    return out


@contextmanager
def server_and_workers(
    store: str, tmp: Path, workers: int = 1
) -> Iterator[tuple[str, Process, list[Process]]]:
    """The dev server on ``store`` and ``workers`` no-op worker processes: (URL, server,
    workers)."""
    server, url = resonate_server(store, tmp / "server.log", free_port())
    started: list[Process] = []
    try:
        for number in range(workers):
            log = tmp / f"worker-{number}.log"
            log.unlink(missing_ok=True)  # "ready" must be this run's
            started.append(
                Process([sys.executable, "-m", "benchmarks.noop_worker", url], log).start()
            )
        wait_until(lambda: all("ready" in p.output() for p in started), 60, "the workers")
        time.sleep(1.0)  # their SSE streams are open: no execute message is dropped
        yield url, server, started
    finally:
        for process in [*started, server]:
            process.kill9()


def http_round(
    store: str, tmp: Path, workflows: int, with_latency: bool
) -> tuple[float, list[float]]:
    """One measurement: a fresh server and worker on ``store``, ``workflows`` timed workflows."""
    with server_and_workers(store, tmp) as (url, _server, _workers):
        rate = asyncio.run(http_rate(url, workflows))
        latencies = asyncio.run(create_latencies(url, 2000)) if with_latency else []
    return rate, latencies


def run(workflows: int, reference_workflows: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        stores: dict[int, str] = {}
        filled, previous = 0, None
        for size in SIZES:  # each store extends a copy of the previous one
            stores[size] = str(tmp / f"store-{size}.db")
            if previous is not None:
                shutil.copyfile(previous, stores[size])
            prefill_store(stores[size], filled, size)
            filled, previous = size, stores[size]
        # Rounds interleave the sizes, so machine noise spreads over all of them alike.
        samples: dict[int, list[float]] = {size: [] for size in SIZES}
        latencies: list[float] = []
        for round_number in range(rounds):
            for size in SIZES:
                want_latency = round_number == 0 and size == SIZES[-1]
                rate, measured = http_round(stores[size], tmp, workflows, want_latency)
                samples[size].append(rate)
                latencies += measured
                print(f"round {round_number + 1}: {size:,} promises -> {rate:.0f}/s", flush=True)
    rates = {size: statistics.median(values) for size, values in samples.items()}
    rows = []
    for size in SIZES:
        reference = asyncio.run(reference_rate(size, reference_workflows))
        rows.append([
            f"{size:,}", f"{rates[size]:.0f}", f"{reference:.1f}",
            f"{rates[size] / rates[SIZES[0]]:.2f}",
        ])  # fmt: skip
        print(rows[-1], flush=True)

    ratio = rates[SIZES[-1]] / rates[SIZES[0]]
    verdict = "met" if ratio >= 0.9 else "NOT met"
    sections = [
        f"### 3-step no-op workflows/s (1 worker process, 20 in flight, median of {rounds} rounds)",
        table(
            [
                "settled promises in store",
                "dev server over HTTP",
                "SDK in-process reference",
                "dev server rate vs 1k",
            ],
            rows,
        ),
        f"Target: rate at 100k ≥ 0.9 x rate at 1k — measured {ratio:.2f}, {verdict}. "
        f"The reference runs in one process with no network, so its absolute numbers are not "
        f"comparable to HTTP; its slope is: it scans every promise on many operations.",
        "### promise.create latency over HTTP (sequential, 2,000 requests, 100k-promise store)",
        table(
            ["p50 ms", "p99 ms"],
            [[f"{percentile(latencies, 50):.2f}", f"{percentile(latencies, 99):.2f}"]],
        ),
    ]
    publish("Resonate dev server", command_line("benchmarks.resonate_server"), sections)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflows", type=int, default=500)
    parser.add_argument("--reference-workflows", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(args.workflows, args.reference_workflows, args.rounds)


if __name__ == "__main__":
    main()
