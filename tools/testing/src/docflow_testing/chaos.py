"""A chaos driver for a running local stack: kill -9 workers, crash-restart the Resonate dev
server, kill the notifier, while jobs go through.

From the moment the driver starts, until it stops:

- every 2-4 s one worker, picked at random among those running, is killed with SIGKILL and
  started again 0.5-2 s later (in the background: a restart takes seconds, so often two of the
  three workers are down at once). Never the last one running: jobs always have a worker to
  move to, so the run measures recovery, not a stack with nothing to run on;
- the planned crashes, ``PLAN``, at even intervals over ``window`` seconds: the Resonate dev
  server three times (brought back by ``docflow-stack up`` on its SQLite store: a real
  crash-restart) and the notifier twice (brought back the same way), each 0.5-2 s after the
  kill.

Every action in hand is finished when the driver stops, so the stack is whole again after it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Protocol

from docflow_testing.processes import Process, wait_until
from docflow_testing.stack import LocalStack

KILL_EVERY = (2.0, 4.0)  # seconds between worker kills
DOWN_FOR = (0.5, 2.0)  # seconds a killed process stays dead
PLAN = ("resonate", "notifier", "resonate", "notifier", "resonate")
READY_LINE = b"worker ready"
# One ``docflow-stack up`` at a time: it starts whatever is missing, so two at once would both
# start the same process.
UP = threading.Lock()


class Worker(Protocol):
    name: str

    def kill9(self) -> None: ...

    def start(self) -> None: ...


@dataclass
class StackWorker:
    """The stack's own worker: ``docflow-stack up`` brings it back."""

    stack: LocalStack
    name: str = "worker"

    def kill9(self) -> None:
        self.stack.kill9(self.name)

    def start(self) -> None:
        with UP:
            self.stack.run("up")


@dataclass
class ExtraWorker:
    """One more member of the worker group, started like the stack's (same environment), and
    logging to ``<state>/logs/<name>.log`` so ``stack.log(name)`` reads its JSON lines."""

    name: str
    process: Process
    ready_from: int = 0  # where in the log this start's ready line will be

    @classmethod
    def beside(cls, stack: LocalStack, name: str) -> ExtraWorker:
        log = stack.state_dir / "logs" / f"{name}.log"
        return cls(name, Process(stack.command(), log, stack.environment()))

    def kill9(self) -> None:
        self.process.kill9()

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        log = self.process.log_path
        self.ready_from = log.stat().st_size if log.exists() else 0
        self.process.start()

    def wait_ready(self) -> None:
        def ready() -> bool:
            with self.process.log_path.open("rb") as text:
                text.seek(self.ready_from)
                return READY_LINE in text.read()

        wait_until(ready, 60, f"{self.name} to be ready")


@dataclass
class Tally:
    """What the driver did: counts, and a timeline (seconds since its start, what)."""

    worker_kills: int = 0
    server_restarts: int = 0
    notifier_kills: int = 0
    timeline: list[tuple[float, str]] = field(default_factory=list)


class Chaos:
    """``with Chaos(stack, workers, window) as chaos:`` runs the schedule above in the block;
    ``wait_planned()`` returns once the planned crashes are all done."""

    def __init__(self, stack: LocalStack, workers: list[Worker], window: float) -> None:
        self.stack = stack
        self.workers = workers
        self.window = window
        self.tally = Tally()
        self.random = random.Random()
        self.stopping = threading.Event()
        self.errors: list[Exception] = []
        self.down: set[str] = set()  # the workers killed and not back yet
        self.killing = self._thread(self._kill_workers)
        self.crashing = self._thread(self._crash_services)
        self.restarts: list[threading.Thread] = []
        self.started = 0.0

    def __enter__(self) -> Chaos:
        self.started = time.monotonic()
        self.killing.start()
        self.crashing.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stopping.set()
        for thread in [self.killing, self.crashing, *self.restarts]:
            thread.join()
        if self.errors and error is None:
            raise AssertionError(f"the chaos driver failed: {self.errors!r}") from self.errors[0]

    def wait_planned(self) -> None:
        self.crashing.join()

    def _thread(self, body: Callable[[], None]) -> threading.Thread:
        return threading.Thread(target=self._guarded, args=(body,), daemon=True)

    def _guarded(self, body: Callable[[], None]) -> None:
        try:
            body()
        except Exception as err:  # surfaced by __exit__: a driver that stopped fails the run
            self.errors.append(err)
            self.stopping.set()

    def _kill_workers(self) -> None:
        while not self.stopping.wait(self.random.uniform(*KILL_EVERY)):
            running = [worker for worker in self.workers if worker.name not in self.down]
            if len(running) < 2:
                continue
            victim = self.random.choice(running)
            victim.kill9()
            self.down.add(victim.name)
            self.tally.worker_kills += 1
            self._note(f"kill -9 {victim.name}")
            restart = self._thread(partial(self._restart, victim))
            self.restarts.append(restart)
            restart.start()

    def _restart(self, worker: Worker) -> None:
        time.sleep(self.random.uniform(*DOWN_FOR))
        worker.start()
        self.down.discard(worker.name)
        self._note(f"{worker.name} back")

    def _crash_services(self) -> None:
        for n, process in enumerate(PLAN, 1):
            at = self.started + self.window * n / (len(PLAN) + 1)
            if self.stopping.wait(max(0.0, at - time.monotonic())):
                return
            with UP:
                self.stack.kill9(process)
                self._note(f"kill -9 {process}")
                time.sleep(self.random.uniform(*DOWN_FOR))
                self.stack.run("up")
            if process == "resonate":
                self.tally.server_restarts += 1
            else:
                self.tally.notifier_kills += 1
            self._note(f"{process} back")

    def _note(self, what: str) -> None:
        self.tally.timeline.append((round(time.monotonic() - self.started, 1), what))
