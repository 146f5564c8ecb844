"""``docflow-notifier``: delivers completion webhooks and lists deliveries."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as redis
import uvicorn
from docflow_shared.observability import json_logging
from docflow_shared.settings import NotifierSettings, SettingsError
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from . import deliveries
from .consumer import Consumer
from .observability import SERVICE, logger
from .signing import SigningSecrets


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    consumer = Consumer(NotifierSettings.current())
    task = asyncio.create_task(consumer.run_forever())
    task.add_done_callback(_report_stop)
    app.state.consumer = task
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await consumer.close()


def _report_stop(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("consumer stopped", exc_info=task.exception())


app = FastAPI(title="docflow notifier", lifespan=lifespan)


@app.get("/health", responses={503: {"description": "the consumer has stopped"}})
async def health(request: Request) -> JSONResponse:
    """ok while the stream consumer runs (it rides out Redis outages by itself); 503 once it
    has stopped on an error it cannot recover from, so the container is restarted."""
    consumer: asyncio.Task[None] = request.app.state.consumer
    if consumer.done():
        failure = None if consumer.cancelled() else consumer.exception()
        error = f"{type(failure).__name__}: {failure}" if failure else "canceled"
        body = {"status": "consumer stopped", "error": error}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ok"})


@app.get("/notifications")
async def notifications(
    job_id: str | None = Query(None, alias="jobId", max_length=128),
    limit: int = Query(50, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Deliveries (newest first), or every delivery of one job, with attempts and outcome."""
    client = redis.Redis.from_url(NotifierSettings.current().redis_url)
    try:
        return await deliveries.listing(client, job_id, limit)
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="docflow-notifier")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    json_logging(SERVICE, logging.WARNING)
    try:
        # Before serving: a notifier that cannot sign must not start (no built-in secret).
        SigningSecrets.parse(NotifierSettings.current().webhook_secret)
    except SettingsError as err:
        logger.error("cannot start", extra={"error": str(err)})
        sys.exit(f"docflow-notifier: {err}")
    # log_config=None: uvicorn's loggers go through the JSON handler above, not its own format.
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, log_level="warning")


if __name__ == "__main__":
    main()
