"""Lambda execution environments, locally: each function runs in a pool of processes.

Lambda runs one request at a time per execution environment and starts more environments as
requests arrive concurrently; each imports the handler once (its init) and then serves request
after request, keeping its module-level state (clients, connections). Here each function gets
up to ``DOCFLOW_LAMBDA_CONCURRENCY`` (4) such environments, separate processes, started as they
are needed (one at once, as if provisioned): concurrent requests are not queued behind one
thread, and one request's CPU work does not hold the others' GIL. Each environment logs its init
as Lambda's REPORT line reports it (``Init Duration``), once, in its first line.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from docflow_shared.lambda_context import LambdaContext
from docflow_shared.observability import json_logging

from .functions import FunctionError, local_function

log = logging.getLogger("docflow.gateway")

DEFAULT_CONCURRENCY = 4
# A fresh interpreter per environment (not a fork of the gateway, with its threads and loop).
SPAWN = multiprocessing.get_context("spawn")


def concurrency() -> int:
    return max(1, int(os.environ.get("DOCFLOW_LAMBDA_CONCURRENCY", DEFAULT_CONCURRENCY)))


class Environment:
    """One process serving one function, one request at a time."""

    def __init__(self, function_name: str, target: str) -> None:
        self.connection, child = SPAWN.Pipe()
        self.process = SPAWN.Process(
            target=serve, args=(child, function_name, target), name=function_name, daemon=True
        )
        self.process.start()
        child.close()
        self.ready = False
        self._init = threading.Lock()

    def wait_ready(self) -> None:
        """Block until its init (importing the handler) is done."""
        with self._init:
            if self.ready:
                return
            try:
                self.connection.recv()  # the child's first message: it is initialised
            except (EOFError, OSError) as err:
                msg = f"the execution environment failed its init ({self.process.exitcode})"
                raise FunctionError(msg) from err
            self.ready = True

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.wait_ready()
        try:
            self.connection.send(event)
            answer: dict[str, Any] = self.connection.recv()
        except (EOFError, OSError) as err:
            msg = f"the execution environment exited ({self.process.exitcode})"
            raise FunctionError(msg) from err
        if "__error__" in answer:
            raise FunctionError(answer["__error__"])
        return answer

    def stop(self) -> None:
        self.connection.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()


class Environments:
    """The function's environments: an idle one takes the request, else a new one is started
    while fewer than ``size`` exist, else the request waits for one to be free."""

    def __init__(self, function_name: str, target: str, size: int) -> None:
        self.function_name, self.target, self.size = function_name, target, size
        self.started: list[Environment] = []
        self.idle: asyncio.Queue[Environment] | None = None  # made in the gateway's loop
        # One thread per environment, and one to wait for the provisioned one's init.
        self.threads = ThreadPoolExecutor(size + 1, thread_name_prefix=function_name)
        self.provisioned = False

    async def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        environment = await self._acquire()
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self.threads, environment.invoke, event)
        except FunctionError:
            if not environment.process.is_alive():  # it died: the next request gets a new one
                self.started.remove(environment)
                environment.stop()
                raise
            self._release(environment)
            raise
        self._release(environment)
        return answer

    async def provision(self) -> None:
        """Start the first environment and wait for its init: the gateway is ready (``/health``)
        once every function has one environment that can answer at once."""
        environment = self._start()
        self._queue().put_nowait(environment)
        await asyncio.get_running_loop().run_in_executor(self.threads, environment.wait_ready)
        self.provisioned = True

    async def _acquire(self) -> Environment:
        idle = self._queue()
        if idle.empty() and len(self.started) < self.size:
            return self._start()
        return await idle.get()

    def _release(self, environment: Environment) -> None:
        self._queue().put_nowait(environment)

    def _start(self) -> Environment:
        environment = Environment(self.function_name, self.target)
        self.started.append(environment)
        return environment

    def _queue(self) -> asyncio.Queue[Environment]:
        if self.idle is None:
            self.idle = asyncio.Queue()
        return self.idle

    def stop(self) -> None:
        for environment in self.started:
            environment.stop()


def serve(connection: Connection, function_name: str, target: str) -> None:
    """An environment's life: init (import the handler), then one request after another."""
    json_logging(function_name)
    began = time.perf_counter()
    handler = local_function(target)
    init_ms = (time.perf_counter() - began) * 1000
    log.info("environment started", extra={"function": function_name, "pid": os.getpid(),
                                            "initDurationMs": round(init_ms, 1)})  # fmt: skip
    connection.send({"initDurationMs": init_ms})
    while True:
        try:
            event = connection.recv()
        except (EOFError, OSError):
            return  # the gateway is gone
        try:
            answer = handler(event, LambdaContext(function_name))
        except Exception as err:
            log.exception("%s raised", function_name)
            answer = {"__error__": f"{type(err).__name__}: {err}"}
        connection.send(answer)
