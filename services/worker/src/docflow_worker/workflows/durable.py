"""What every workflow version is built from: its steps as durable checkpoints (``Steps``),
the job as they see it, and the durable waits (for a reviewer, for a redrive).

Every supported version runs this code on replay: a change here must keep each version's
durable calls, and their order, as they were (``docflow replay-check`` checks it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from docflow_shared.errors import StepFailed
from docflow_shared.models import Analysis
from docflow_shared.settings import WorkerSettings
from docflow_shared.workflow import (
    DEADLINE_GRACE,
    EXTRACT_PAGES_NAME,
    NAMED_CHECKPOINTS_FROM,
    REDRIVEN,
    TIMED_OUT_DECISION,
    WAIT_TIMER_NAME,
    WORKFLOW_NAME,
)
from resonate.context import Context
from resonate.types import DurableRegistry

from ..dal.signals import JobSignals
from ..domain import Approval, Decision, Document, Job, Notified, PageBatch
from ..retrying import checkpoint, ensure_job_continues, step_result
from ..steps.extract import extract_pages, page_batches

TIMER_SLACK = timedelta(hours=1)  # for a wait timer's last step, after its sleep


def register(worker: DurableRegistry, workflow: Callable[..., Any], version: int) -> None:
    """A version's workflow, and every function it calls by name, at that version."""
    worker.register(workflow, name=WORKFLOW_NAME, version=version)
    worker.register(wait_timer, name=WAIT_TIMER_NAME, version=version)
    worker.register(checkpoint(extract_pages), name=EXTRACT_PAGES_NAME, version=version)


class Steps:
    """The job's steps as durable checkpoints: ``ctx.run``, or ``ctx.rpc`` for those any
    worker may run.

    A step that fails with ``StepFailed`` (a bug, an outage that did not pass) does not end the
    job: the job reads ``failed`` and waits, holding no worker, for a redrive (``POST
    /jobs/{jobId}/redrive`` once the fix is deployed). A redrive starts the next run: the
    failed step again, the steps done before it staying done. A job not redriven by its
    deadline fails with that failure; a canceled one ends canceled.
    """

    def __init__(self, ctx: Context, job: Job, version: int) -> None:
        # A call by name is resolved at the version its options carry (the SDK's default: 1),
        # so each carries the workflow's own.
        self.ctx, self.job, self.version = ctx, job, version
        # Version 1 keeps the checkpoints it always wrote: a worker of before named checkpoints
        # may replay them in a rolling deploy, and could not read a named one.
        self.named = version >= NAMED_CHECKPOINTS_FROM

    async def run(self, step: Callable[..., Any], *inputs: Any) -> Any:
        while True:
            try:
                body = checkpoint(step, named=self.named)
                recorded = await self.ctx.run(body, self.job, *inputs)
                return step_result(step, recorded)
            except StepFailed as failure:
                await self._redriven(failure)

    async def read_pages(self, document: Document) -> list[PageBatch]:
        """Extract's fan-out: each batch of the document's pages read by any worker."""
        batches = [(document, first, last) for first, last in page_batches(document.pages)]
        return [PageBatch.model_validate(batch)  # JSON: called by name
                for batch in await self.call_each(EXTRACT_PAGES_NAME, batches)]  # fmt: skip

    async def call_each(self, name: str, calls: list[tuple[Any, ...]]) -> list[Any]:
        """The step called ``name`` once per inputs, all at once, on any workers; a redrive
        runs each call that failed again."""
        results: list[Any] = [None] * len(calls)
        todo = dict(enumerate(calls))
        while True:
            remote = self.ctx.options(version=self.version)
            started = {i: remote.rpc(name, self.job, *inputs) for i, inputs in todo.items()}
            failure = None
            for i, future in started.items():
                try:
                    results[i] = await future
                    del todo[i]
                except StepFailed as failed:
                    failure = failure or failed
            if failure is None:
                return results
            await self._redriven(failure)

    async def _redriven(self, failure: StepFailed) -> None:
        """Wait until the job is redriven (a new run), or end it: canceled, or failed."""
        seconds = max(0.0, (self.job.deadline_at - time.time() * 1000) / 1000)
        outcome = await wait_for_someone(self.ctx, seconds, self.version)
        if isinstance(outcome, dict) and outcome.get(REDRIVEN) is True:
            self.job = self.job.model_copy(update={"run": self.job.run + 1})
            return
        if outcome != TIMED_OUT_DECISION:
            await ensure_job_continues(self.ctx, self.job)  # canceled: it ends so
        raise failure


def running_job(ctx: Context, request: dict[str, Any], trace: dict[str, Any], version: int) -> Job:
    """The job as its steps see it: with its deadline (the root promise's timeout less the
    server's grace) and the trigger's trace, both from the root promise, and the version of
    the workflow that runs it."""
    grace_ms = int(DEADLINE_GRACE.total_seconds() * 1000)
    return Job.running(request, trace, ctx.info.timeout_at - grace_ms, version)


def job_result(
    result_url: str,
    document: Document,
    analysis: Analysis,
    notified: Notified,
    approval: Approval | None,
) -> dict[str, Any]:
    """The workflow's value, which ``GET /status`` shows as the job's ``result``."""
    return {"resultUrl": result_url, **analysis.model_dump(mode="json", exclude_none=True),
            "pages": document.pages, **notified.model_dump(mode="json"),
            # exclude_defaults: no "corrected" when the reviewer corrected nothing.
            **({"approval": approval.model_dump(mode="json", exclude_defaults=True)}
               if approval else {})}  # fmt: skip


async def reviewer_decision(ctx: Context, job: Job, version: int) -> Decision:
    """Wait for the decision on the job's approval promise: ``DOCFLOW_APPROVAL_TIMEOUT`` at
    most, or until the job's deadline if that comes first."""
    seconds = min(WorkerSettings.current().approval_timeout_seconds,
                  (job.deadline_at - time.time() * 1000) / 1000)  # fmt: skip
    return Decision.model_validate(await wait_for_someone(ctx, max(0.0, seconds), version))


async def wait_for_someone(ctx: Context, seconds: float, version: int) -> Any:
    """The value someone (a reviewer, an operator) settles a new external promise with, or
    ``TIMED_OUT_DECISION`` once ``seconds`` have passed.

    A wait timer (a detached workflow that sleeps durably) settles the promise as timed out
    unless someone settled it first. A server timer, not a promise timeout: servers differ on
    whether they time out a promise that no task executes.
    """
    now = time.time() * 1000
    # The SDK's default is one day; these live as long as the job may (the server bounds both
    # by the root promise's timeout).
    waiting = ctx.promise(timeout=timedelta(milliseconds=ctx.info.timeout_at - now))
    timer = ctx.options(timeout=timedelta(seconds=seconds) + TIMER_SLACK, version=version)
    await timer.detached(WAIT_TIMER_NAME, await waiting.id(), seconds)
    return await waiting


async def wait_timer(ctx: Context, promise_id: str, seconds: float) -> None:
    await ctx.sleep(timedelta(seconds=seconds))
    await ctx.run(time_out_wait, promise_id)


async def time_out_wait(ctx: Context, promise_id: str) -> None:
    await ctx.get_dependency(JobSignals).time_out_wait(promise_id)
