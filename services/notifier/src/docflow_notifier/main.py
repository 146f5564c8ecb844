"""``docflow-notifier``: reads the completion events. Webhook delivery arrives with its own issue;
for now it serves its health and the latest events on the notification stream."""

from __future__ import annotations

import argparse
import json
from typing import Any

import redis.asyncio as redis
import uvicorn
from docflow_shared.settings import get_settings
from docflow_shared.workflow import NOTIFICATION_STREAM
from fastapi import FastAPI, Query

app = FastAPI(title="docflow notifier")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/notifications")
async def notifications(limit: int = Query(50, ge=1, le=1000)) -> list[dict[str, Any]]:
    """The newest events on the stream, newest first."""
    client = redis.Redis.from_url(get_settings().redis_url)
    try:
        entries = await client.xrevrange(NOTIFICATION_STREAM, count=limit)
    finally:
        await client.aclose()
    return [{"id": key.decode(), **json.loads(fields[b"event"])} for key, fields in entries]


def main() -> None:
    parser = argparse.ArgumentParser(prog="docflow-notifier")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
