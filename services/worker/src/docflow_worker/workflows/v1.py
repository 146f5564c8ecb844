"""Workflow version 1, frozen: jobs in flight on it replay these durable calls, in this order.
A change to what the workflow calls, or in which order, is a new version's module; a change
inside a step's body is not (docs/deploy.md, *Workflow versions*).

Five steps (extract fans out: its pages are read in batches, durable steps of their own that
any worker may run), and for a job that needs approval a durable wait and a review step between
analyze and store. While it waits, the workflow holds no worker: its task suspends until the
reviewer's decision (or the wait's timeout) settles the approval promise; any worker resumes it.
A step that fails on a bug waits the same way for a redrive (``durable.Steps``).
"""

from __future__ import annotations

from typing import Any

from resonate.context import Context

from ..steps.analyze import analyze
from ..steps.download import download
from ..steps.extract import extract
from ..steps.notify import notify
from ..steps.review import approval_required, review
from ..steps.store import store
from .durable import Steps, job_result, reviewer_decision, running_job

VERSION = 1


async def process_document(
    ctx: Context, request: dict[str, Any], trace: dict[str, Any] | None = None
) -> dict[str, Any]:
    job = running_job(ctx, request, trace or {}, VERSION)
    steps = Steps(ctx, job, VERSION)
    document = await steps.run(download)
    pages = await steps.read_pages(document)
    text = await steps.run(extract, document, pages)
    analysis = await steps.run(analyze, text)
    approval = None
    if approval_required(job, analysis):
        approval = await steps.run(review, await reviewer_decision(ctx, job, VERSION))
    result_url = await steps.run(store, document, analysis)
    notified = await steps.run(notify, result_url)
    return job_result(result_url, document, analysis, notified, approval)
