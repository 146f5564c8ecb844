"""Speaking the Resonate protocol to a server by hand: one envelope per request."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

VERSION = "2026-04-01"
FAR = 4_000_000_000_000


def post(url: str, body: bytes | str) -> tuple[int, Any]:
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(f"{url}/", data=data, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def call(url: str, kind: str, **data: Any) -> tuple[int, Any]:
    envelope = {"kind": kind, "head": {"corrId": "t-1", "version": VERSION}, "data": data}
    status, body = post(url, json.dumps(envelope))
    assert body["kind"] == kind
    assert body["head"] == {"corrId": "t-1", "status": status, "version": VERSION}
    return status, body["data"]
