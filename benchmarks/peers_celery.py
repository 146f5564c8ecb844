"""Celery, the common non-durable peer: a task that does nothing, a worker process for it, and
chains of that task sent by a client of this process. Broker and result backend: valkey."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from celery import Celery, chain
from docflow_testing.processes import Process, wait_until

# The worker's app (``celery -A benchmarks.peers_celery``); its URLs come on the command line.
app = Celery("docflow-bench")


@app.task(name="noop")
def noop() -> None:
    return None


@contextmanager
def celery_worker(redis_url: str, log_dir: Path) -> Iterator[Callable[[int], None]]:
    """One worker process (solo pool: one process running one task at a time); yields a
    function that sends a chain of ``steps`` no-op tasks and waits for the last one's result."""
    worker = Process(
        [sys.executable, "-m", "celery", "-A", "benchmarks.peers_celery", "--broker", redis_url,
         "--result-backend", redis_url, "worker", "--pool", "solo", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
        log_dir / "celery.log",
    ).start()  # fmt: skip
    # A client app of its own: an app keeps its first broker's connections for good.
    client = Celery("docflow-bench-client", broker=redis_url, backend=redis_url)
    try:
        wait_until(lambda: " ready." in worker.output(), 60, "the Celery worker")

        def run_chain(steps: int) -> None:
            tasks = [client.signature("noop", immutable=True) for _ in range(steps)]
            chain(*tasks).apply_async().get(timeout=30)

        yield run_chain
    finally:
        client.close()
        worker.kill9()
