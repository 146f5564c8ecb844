"""Workflow version 2, the newest: version 1 with the analysis cross-checked before it is
stored (``verify``, between analyze and the review or store); the result carries its
``checks``. Whether a person must review the job is decided in that step, so it is recorded:
version 1 decides it in the workflow's own code, from settings a redeploy may change under a
job in flight. Jobs started at version 1 finish on ``v1``.
"""

from __future__ import annotations

from typing import Any

from resonate.context import Context

from ..steps.analyze import analyze
from ..steps.download import download
from ..steps.extract import extract
from ..steps.notify import notify
from ..steps.review import corrected, review
from ..steps.store import store
from ..steps.verify import verify
from .durable import Steps, job_result, reviewer_decision, running_job

VERSION = 2


async def process_document(
    ctx: Context, request: dict[str, Any], trace: dict[str, Any] | None = None
) -> dict[str, Any]:
    job = running_job(ctx, request, trace or {}, VERSION)
    steps = Steps(ctx, job, VERSION)
    document = await steps.run(download)
    pages = await steps.read_pages(document)
    text = await steps.run(extract, document, pages)
    analysis = await steps.run(analyze, text)
    verification = await steps.run(verify, analysis)
    approval = None
    if verification.needs_review:
        approval = await steps.run(review, await reviewer_decision(ctx, job, VERSION))
        analysis = corrected(analysis, approval)  # the reviewer's values are the result's
    result_url = await steps.run(store, document, analysis)
    notified = await steps.run(notify, result_url)
    result = job_result(result_url, document, analysis, notified, approval)
    return {**result, "checks": [c.model_dump(mode="json") for c in verification.checks]}
