"""The docflow workflow: durable checkpoints, each resumable after a crash.

Five steps (extract fans out: its pages are read in batches, durable steps of their own that
any worker may run), and for a job that needs approval a durable wait and a review step between
analyze and store. While it waits, the workflow holds no worker: its task suspends until the
reviewer's decision (or the wait's timeout) settles the approval promise; any worker resumes it.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from docflow_shared.models import Analysis
from docflow_shared.settings import WorkerSettings
from docflow_shared.workflow import APPROVAL_TIMER_NAME, DEADLINE_GRACE, EXTRACT_PAGES_NAME
from resonate.context import Context

from .dal.signals import JobSignals
from .domain import Approval, Decision, Document, Job, Notified, PageBatch
from .retrying import checkpoint
from .steps.analyze import analyze
from .steps.download import download
from .steps.extract import extract, page_batches
from .steps.notify import notify
from .steps.review import approval_required, review
from .steps.store import store

TIMER_SLACK = timedelta(hours=1)  # for the approval timer's last step, after its sleep


async def process_document(
    ctx: Context, request: dict[str, Any], trace: dict[str, Any] | None = None
) -> dict[str, Any]:
    job = running_job(ctx, request, trace or {})
    document = await ctx.run(checkpoint(download), job)
    batches = [ctx.rpc(EXTRACT_PAGES_NAME, job, document, first, last)
               for first, last in page_batches(document.pages)]  # fmt: skip
    pages = [PageBatch.model_validate(await batch) for batch in batches]  # JSON: called by name
    text = await ctx.run(checkpoint(extract), job, document, pages)
    analysis = await ctx.run(checkpoint(analyze), job, text)
    approval = None
    if approval_required(job, analysis):
        approval = await ctx.run(checkpoint(review), job, await reviewer_decision(ctx, job))
    result_url = await ctx.run(checkpoint(store), job, document, analysis)
    notified = await ctx.run(checkpoint(notify), job, result_url)
    return job_result(result_url, document, analysis, notified, approval)


def running_job(ctx: Context, request: dict[str, Any], trace: dict[str, Any]) -> Job:
    """The job as its steps see it: with its deadline (the root promise's timeout less the
    server's grace) and the trigger's trace, both from the root promise."""
    grace_ms = int(DEADLINE_GRACE.total_seconds() * 1000)
    return Job.running(request, trace, ctx.info.timeout_at - grace_ms)


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
            **({"approval": approval.model_dump(mode="json")} if approval else {})}  # fmt: skip


async def reviewer_decision(ctx: Context, job: Job) -> Decision:
    """Wait for the decision on the job's approval promise.

    An approval timer (a detached workflow that sleeps durably) settles the promise as timed
    out after ``DOCFLOW_APPROVAL_TIMEOUT``, or at the job's deadline if that comes first, unless
    a reviewer decided before. A server timer, not a promise timeout: servers differ on whether
    they time out a promise that no task executes.
    """
    now = time.time() * 1000
    # The SDK's default is one day; these live as long as the job may (the server bounds both
    # by the root promise's timeout).
    approval = ctx.promise(timeout=timedelta(milliseconds=ctx.info.timeout_at - now))
    wait = max(
        0.0,
        min(WorkerSettings.current().approval_timeout_seconds, (job.deadline_at - now) / 1000),
    )
    timer = ctx.options(timeout=timedelta(seconds=wait) + TIMER_SLACK)
    await timer.detached(APPROVAL_TIMER_NAME, await approval.id(), wait)
    return Decision.model_validate(await approval)


async def approval_timer(ctx: Context, approval_id: str, seconds: float) -> None:
    await ctx.sleep(timedelta(seconds=seconds))
    await ctx.run(time_out_approval, approval_id)


async def time_out_approval(ctx: Context, approval_id: str) -> None:
    await ctx.get_dependency(JobSignals).time_out_approval(approval_id)
