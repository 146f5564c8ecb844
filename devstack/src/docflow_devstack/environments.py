"""Lambda execution environments, locally: each function runs in a pool of processes.

Lambda runs one request at a time per execution environment and starts more environments as
requests arrive concurrently; each imports the handler once (its init) and then serves request
after request, keeping its module-level state (clients, connections). Here each function gets
up to ``DOCFLOW_LAMBDA_CONCURRENCY`` (4) such environments, separate processes, started as they
are needed (one at once, as if provisioned): concurrent requests are not queued behind one
thread, and one request's CPU work does not hold the others' GIL. Each environment logs its init
as Lambda's REPORT line reports it (``Init Duration``), once, in its first line.

The gateway talks to each environment over a socket pair on its event loop, without a thread
hand-off per request (that was a third of the gateway's CPU per request). Events and answers
cross as length-prefixed JSON, as they cross into and out of Lambda: an answer Lambda could not
serialise fails here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import socket
import struct
import time
from typing import Any

from docflow_shared.lambda_context import LambdaContext
from docflow_shared.observability import json_logging

from .functions import FunctionError, local_function

log = logging.getLogger("docflow.gateway")

DEFAULT_CONCURRENCY = 4
# A fresh interpreter per environment (not a fork of the gateway, with its threads and loop).
SPAWN = multiprocessing.get_context("spawn")
FRAME_HEADER = struct.Struct("!Q")  # each message: its length, then its JSON


def concurrency() -> int:
    return max(1, int(os.environ.get("DOCFLOW_LAMBDA_CONCURRENCY", DEFAULT_CONCURRENCY)))


class Environment:
    """One process serving one function, one request at a time."""

    def __init__(self, function_name: str, target: str) -> None:
        self.ours, theirs = socket.socketpair()
        self.process = SPAWN.Process(
            target=serve, args=(theirs, function_name, target), name=function_name, daemon=True
        )
        self._theirs = theirs
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.init: asyncio.Task[None] | None = None
        self.gone = False  # its end of the channel closed: the process is exiting, or exited

    async def start(self) -> None:
        """Spawn the process (off the loop: spawning takes tens of ms) and begin its init."""
        await asyncio.get_running_loop().run_in_executor(None, self.process.start)
        self._theirs.close()
        self._streams = await asyncio.open_unix_connection(sock=self.ours)
        self.init = asyncio.create_task(self._initialised())

    async def _initialised(self) -> None:
        await self._receive("failed its init")  # the child's first message: it is initialised

    async def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.init is not None
        assert self._streams is not None
        await self.init
        writer = self._streams[1]
        writer.write(frame(event))
        try:
            await writer.drain()
        except OSError as err:
            self.gone = True
            msg = f"the execution environment exited ({self.process.exitcode})"
            raise FunctionError(msg) from err
        answer: dict[str, Any] = await self._receive("exited")
        if "__error__" in answer:
            raise FunctionError(answer["__error__"])
        return answer

    async def _receive(self, what: str) -> Any:
        assert self._streams is not None
        reader = self._streams[0]
        try:
            (size,) = FRAME_HEADER.unpack(await reader.readexactly(FRAME_HEADER.size))
            return json.loads(await reader.readexactly(size))
        except (asyncio.IncompleteReadError, OSError) as err:
            self.gone = True
            msg = f"the execution environment {what} ({self.process.exitcode})"
            raise FunctionError(msg) from err

    def alive(self) -> bool:
        # Its channel closes before the process is reaped: is_alive() alone may say True.
        return not self.gone and self.process.is_alive()

    def hang_up(self) -> None:
        """Close its channel at once: the process reads its end and exits (``reap`` waits)."""
        with contextlib.suppress(OSError):
            self.ours.shutdown(socket.SHUT_RDWR)  # now, not when the loop gets round to it
        if self._streams is not None:
            self._streams[1].close()
        else:
            self.ours.close()

    async def reap(self) -> None:
        """Wait for the process to exit (off the loop), killing it if it will not."""
        if self.process.pid is None:
            return
        await asyncio.get_running_loop().run_in_executor(None, self.process.join, 5)
        if self.process.is_alive():
            self.process.kill()


class Environments:
    """The function's environments: an idle one takes the request, else a new one is started
    while fewer than ``size`` exist, else the request waits for one to be free. An invocation
    that runs past ``timeout`` seconds ends as Lambda ends it: its environment is killed."""

    def __init__(
        self, function_name: str, target: str, size: int, timeout: float | None = None
    ) -> None:
        self.function_name, self.target, self.size = function_name, target, size
        self.timeout = timeout
        self.started: list[Environment] = []
        self.idle: asyncio.Queue[Environment] | None = None  # made in the gateway's loop
        self.provisioned = False
        self._reaping: set[asyncio.Task[None]] = set()  # kept: the loop holds weak references

    async def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        environment = await self._acquire()
        try:
            async with asyncio.timeout(self.timeout):
                answer = await environment.invoke(event)
        except TimeoutError:
            log.error("%s: task timed out after %g seconds", self.function_name, self.timeout)
            self._discard(environment)
            msg = f"Task timed out after {self.timeout:g} seconds"
            raise FunctionError(msg) from None
        except FunctionError:
            self._release_or_discard(environment)
            raise
        except BaseException:
            # Cancelled mid-exchange: its answer would reach the next request. Start afresh.
            self._discard(environment)
            raise
        self._queue().put_nowait(environment)
        return answer

    async def provision(self) -> None:
        """Start the first environment and wait for its init: the gateway is ready (``/health``)
        once every function has one environment that can answer at once."""
        environment = await self._start()
        self._queue().put_nowait(environment)
        assert environment.init is not None
        await environment.init
        self.provisioned = True

    async def _acquire(self) -> Environment:
        idle = self._queue()
        if idle.empty() and len(self.started) < self.size:
            return await self._start()
        return await idle.get()

    def _release_or_discard(self, environment: Environment) -> None:
        if environment.alive():
            self._queue().put_nowait(environment)
        else:  # it died: the next request gets a new one
            self._discard(environment)

    def _discard(self, environment: Environment) -> None:
        self.started.remove(environment)
        environment.hang_up()
        reaping = asyncio.get_running_loop().create_task(environment.reap())
        self._reaping.add(reaping)
        reaping.add_done_callback(self._reaping.discard)

    async def _start(self) -> Environment:
        environment = Environment(self.function_name, self.target)
        self.started.append(environment)  # counted at once: concurrent starts stay within size
        try:
            await environment.start()
        except BaseException:
            self._discard(environment)
            raise
        return environment

    def _queue(self) -> asyncio.Queue[Environment]:
        if self.idle is None:
            self.idle = asyncio.Queue()
        return self.idle

    async def stop(self) -> None:
        for environment in self.started:
            environment.hang_up()
        await asyncio.gather(*(e.reap() for e in self.started), *self._reaping)


def serve(channel: socket.socket, function_name: str, target: str) -> None:
    """An environment's life: init (import the handler), then one request after another."""
    json_logging(function_name)
    began = time.perf_counter()
    handler = local_function(target)
    init_ms = (time.perf_counter() - began) * 1000
    log.info("environment started", extra={"function": function_name, "handler": target,
                                            "pid": os.getpid(),
                                            "initDurationMs": round(init_ms, 1)})  # fmt: skip
    stream = channel.makefile("rwb")
    stream.write(frame({"initDurationMs": init_ms}))
    stream.flush()
    while True:
        header = stream.read(FRAME_HEADER.size)
        if len(header) < FRAME_HEADER.size:
            return  # the gateway is gone
        (size,) = FRAME_HEADER.unpack(header)
        event = json.loads(stream.read(size))
        try:
            answer = frame(handler(event, LambdaContext(function_name)))
        except Exception as err:
            log.exception("%s raised", function_name)
            answer = frame({"__error__": f"{type(err).__name__}: {err}"})
        stream.write(answer)
        stream.flush()


def frame(message: Any) -> bytes:
    payload = json.dumps(message, separators=(",", ":")).encode()
    return FRAME_HEADER.pack(len(payload)) + payload
