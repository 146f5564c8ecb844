"""How a step becomes a durable checkpoint: ``checkpoint(fn)`` is what the workflow ``ctx.run``s.

The SDK's retry policy cannot tell a bad document from a flaky network, so the worker turns it
off (``Never``) and retries here instead, in one place for every step:

- ``InvalidDocument`` (404, unsupported type, corrupt PDF, ...) is permanent: no retry; the step
  fails and the workflow fails the job with that reason. ``JobEnded`` likewise ends the job.
- ``Transient`` (the document's server timed out or answered 5xx) is retried a few times.
- an outage (``failures.is_outage``: S3, Redis or Resonate unreachable, timing out, throttling
  or answering 5xx) is retried with a capped backoff for a long while, so it delays jobs
  instead of failing them.
- anything else is a bug: retried twice, in case, then the job fails at once with reason
  ``internal_error`` (the exception's type and message; its traceback in the log), instead of
  sitting in ``processing`` while a retry that cannot help comes round forty times.

Before a step starts, the job must still be live: a requested cancel, or a passed deadline,
ends it there (``endings``), at a step boundary, never in the middle of a step.

The step body runs in a thread: OCR can take minutes and must not block the event loop that
sends the task's heartbeats.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, get_type_hints

from docflow_shared.errors import InvalidDocument, JobEnded, ReasonedError, StepFailed
from docflow_shared.observability import log_keys
from docflow_shared.progress import page_batch_name
from docflow_shared.retry import Backoff
from docflow_shared.workflow import EXTRACT_PAGES_NAME, checkpoint_value, named_checkpoint
from pydantic import TypeAdapter
from resonate.context import Context
from resonate.error import PlatformError, ResonateError

from . import observability
from .dal import progress
from .dal.signals import JobSignals
from .domain import Job
from .endings import announce_failure, end_job
from .failures import is_outage
from .observability import logger

TRANSIENT_ATTEMPTS = 4  # the document's source
OUTAGE_ATTEMPTS = 40  # about 35 minutes at the capped backoff
BUG_ATTEMPTS = 3  # then the job fails within seconds (plus three runs of the step)
STEP_BACKOFF = Backoff(first_seconds=1.0, max_seconds=60.0)


class Transient(Exception):
    """The document's source failed in a way that may pass (timeout, 5xx, reset).

    ``reason`` is the job's failure reason if it keeps failing (``timeout``, ``download_failed``).
    """

    def __init__(self, message: str, reason: str = "download_failed") -> None:
        super().__init__(message)
        self.reason = reason


class Drain:
    """Graceful shutdown: the steps in flight finish (and are checkpointed), no new one starts."""

    def __init__(self) -> None:
        self.active = 0
        self.draining = False
        self.idle = asyncio.Event()
        self.idle.set()

    def enter(self) -> None:
        self.active += 1
        self.idle.clear()

    def leave(self) -> None:
        self.active -= 1
        if not self.active:
            self.idle.set()

    async def until_idle(self) -> None:
        """Start no more steps, and return once none is running."""
        self.draining = True
        await self.idle.wait()


drain = Drain()


class NextInvocation(ResonateError):
    """This invocation has run its step: the task goes back to the server, which pushes it again
    at once, and the next invocation runs the next step (``serverless``)."""


class Invocation:
    """How many steps this process may still start before it hands its task on: no limit for a
    long-running worker; one per Lambda invocation, whose time limit is one step's."""

    def __init__(self) -> None:
        self.step_limit: int | None = None
        self.started = 0

    def begin(self, step_limit: int | None) -> None:
        self.step_limit, self.started = step_limit, 0

    def take_step(self) -> None:
        """Count a step about to run here, or hand the task on (``PlatformError``: the SDK
        releases the task rather than settle the step, which the next invocation runs)."""
        if self.step_limit is not None and self.started >= self.step_limit:
            raise PlatformError([NextInvocation("one step per invocation: the next one runs it")])
        self.started += 1


invocation = Invocation()


class Demo:
    """For the local demo, drills and tests only: every step attempt first waits
    ``step_delay_seconds`` (watch the steps move, kill the worker mid-step), and the step named
    ``failing_step`` raises on every attempt, as a bug would (watch a job fail fast). No
    environment variable reaches them, only the command line (``docflow-worker
    --demo-step-delay S --demo-failing-step STEP``), as the local stack starts it."""

    step_delay_seconds = 0.0
    failing_step: str | None = None


class DemoBug(RuntimeError):
    """What ``--demo-failing-step`` raises."""


demo = Demo()


async def ensure_job_continues(ctx: Context, job: Job) -> None:
    """End the job here if it was canceled or its deadline passed (``JobEnded``)."""
    if await ctx.get_dependency(JobSignals).cancel_requested(job.job_id):
        await asyncio.to_thread(end_job, job, "canceled", "canceled on request")
    if time.time() * 1000 >= job.deadline_at:
        await asyncio.to_thread(end_job, job, "timed_out", "the job's deadline passed")


def checkpoint(fn: Callable[..., Any], named: bool = False) -> Callable[..., Awaitable[Any]]:
    """Wrap a plain step ``fn(job, *inputs)`` as a durable-step body for ``ctx.run``.

    The wrapper shows Resonate the step's own signature: a replay rebuilds the step's result,
    and a remote call (a page batch) its arguments, from those annotations, so the workflow
    gets the same model on the first run and after a crash. A ``named`` checkpoint records
    which step it is with its value (``named_checkpoint``; read back with ``step_result``).
    """
    step = fn.__name__
    hints = get_type_hints(fn)
    returns = hints.get("return", Any)
    adapter = TypeAdapter(returns)

    async def run(ctx: Context, job: Job, *inputs: Any) -> Any:
        if drain.draining:
            # This worker is leaving: park instead of starting. The task's lease lapses and
            # another worker resumes the workflow exactly here.
            await asyncio.Future()
        invocation.take_step()
        drain.enter()
        try:
            with log_keys(logger, jobId=job.job_id, step=step, correlation_id=job.correlation_id,
                          workflowVersion=job.workflow_version):  # fmt: skip
                await ensure_job_continues(ctx, job)
                async with progress.alive(job):
                    result = await _run_with_retries(fn, step, job, inputs)
        finally:
            drain.leave()
        return named_checkpoint(step, adapter.dump_python(result, mode="json")) if named else result

    run.__name__ = step
    run.__qualname__ = step
    context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = [p.replace(annotation=hints.get(p.name, Any))
                  for p in inspect.signature(fn).parameters.values()]  # fmt: skip
    run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [context, *parameters], return_annotation=dict[str, Any] if named else returns
    )
    return run


class StepMismatch(ReasonedError):
    """A checkpoint that names another step than the one the code runs at its place: the
    workflow changed under a job in flight (a new version's change made in place). The job
    fails rather than hand one step's result to another."""


def step_result(fn: Callable[..., Any], recorded: Any) -> Any:
    """The step's result a ``named`` checkpoint holds, as the step's own type."""
    name, value = checkpoint_value(recorded)
    if name is not None and name != fn.__name__:
        msg = (f"the workflow runs {fn.__name__!r} where the job's history has {name!r}: its "
               "code changed under the job")  # fmt: skip
        raise StepMismatch("internal_error", msg)
    return TypeAdapter(get_type_hints(fn).get("return", Any)).validate_python(value)


async def _run_with_retries(
    fn: Callable[..., Any], step: str, job: Job, inputs: tuple[Any, ...]
) -> Any:
    delay = demo.step_delay_seconds
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        with log_keys(logger, attempt=attempt):
            logger.info("step started")
            await progress.attempt_started(job, _progress_name(step, inputs))
            try:
                if delay:
                    await asyncio.sleep(delay)
                if step == demo.failing_step:
                    raise DemoBug(f"{step} fails on purpose (--demo-failing-step)")
                result = await asyncio.to_thread(fn, job, *inputs)
            except InvalidDocument as err:
                logger.warning("step failed permanently", extra={"reason": err.reason})
                _finished(step, started, attempt, "failed", job)
                await asyncio.to_thread(announce_failure, job, err)
                raise
            except JobEnded as ended:
                logger.info("job ended", extra={"status": ended.status})
                raise
            except Exception as err:
                transient, outage = isinstance(err, Transient), is_outage(err)
                limit = (TRANSIENT_ATTEMPTS if transient
                         else OUTAGE_ATTEMPTS if outage else BUG_ATTEMPTS)  # fmt: skip
                if attempt >= limit:
                    logger.exception("step gave up", extra={"error": str(err)})
                    _finished(step, started, attempt, "failed", job)
                    failure = _failure(step, err, attempt)
                    await asyncio.to_thread(announce_failure, job, failure)
                    raise failure from err
                pause = STEP_BACKOFF.delay(attempt)
                # The traceback of what nobody expected (a bug, an outage), not of a flaky source.
                logger.warning("step failed, retrying",
                               extra={"error": str(err), "retryIn": pause, "outage": outage},
                               exc_info=not transient)  # fmt: skip
                await asyncio.sleep(pause)
                continue
            logger.info("step done", extra={"seconds": round(time.monotonic() - started, 3)})
            _finished(step, started, attempt, "done", job)
            return result


def _failure(step: str, error: Exception, attempts: int) -> StepFailed:
    if isinstance(error, Transient):
        return StepFailed(error.reason, f"{step} kept failing: {error}")
    if is_outage(error):
        return StepFailed("internal_error", f"{step} kept failing ({attempts} attempts): {error}")
    return StepFailed("internal_error", f"{step} failed: {type(error).__name__}: {error}")


def _progress_name(step: str, inputs: tuple[Any, ...]) -> str:
    if step == EXTRACT_PAGES_NAME:
        _document, first, last = inputs
        return page_batch_name(first, last)
    return step


def _finished(step: str, started: float, attempts: int, outcome: str, job: Job) -> None:
    observability.step_finished(step, time.monotonic() - started, attempts, outcome)
    if outcome == "failed":
        observability.job_finished(job, "failed")  # a step that fails for good fails the job
