"""The docflow workflow: five durable checkpoints, each resumable after a crash."""

from __future__ import annotations

from typing import Any

from resonate.context import Context

from .retrying import checkpoint
from .steps.analyze import analyze
from .steps.download import download
from .steps.extract import extract
from .steps.notify import notify
from .steps.store import store


async def process_document(ctx: Context, job: dict[str, Any]) -> dict[str, Any]:
    document = await ctx.run(checkpoint(download), job)
    text = await ctx.run(checkpoint(extract), job, document)
    analysis = await ctx.run(checkpoint(analyze), job, text)
    result_url = await ctx.run(checkpoint(store), job, document, analysis)
    notified = await ctx.run(checkpoint(notify), job, result_url)
    return {"resultUrl": result_url, **analysis, "pages": document["pages"], **notified}
