"""API Gateway HTTP API (payload 2.0) events, as the gateway builds them, for handler tests."""

from __future__ import annotations

import json
import uuid
from typing import Any


def api_event(
    method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The event for one request; ``body`` (if any) is sent as JSON."""
    all_headers = {"content-type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "127.0.0.1"},
            "requestId": str(uuid.uuid4()),
            "stage": "$default",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
