"""DBOS Transact, the durable peer: a workflow of no-op steps, run in this process, with its
checkpoints in PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dbos import DBOS

from benchmarks.noop_worker import noop_total


@DBOS.step()
def noop_step(number: int) -> int:
    return number


@DBOS.workflow()  # what ``benchmarks.noop_worker.noop_steps`` is on Resonate
def noop_steps(steps: int) -> int:
    return sum(noop_step(number) for number in range(1, steps + 1))


@contextmanager
def dbos(database_url: str) -> Iterator[Callable[[int], None]]:
    """DBOS launched on ``database_url``; yields a function that runs one ``steps``-step
    workflow to its end."""
    DBOS(config={"name": "docflow-bench", "system_database_url": database_url,
                 "log_level": "WARNING"})  # fmt: skip
    try:
        DBOS.launch()

        def run_workflow(steps: int) -> None:
            assert noop_steps(steps) == noop_total(steps)

        yield run_workflow
    finally:
        DBOS.destroy()
