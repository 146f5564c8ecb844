"""Speaking the Resonate protocol to a server by hand: one envelope per request."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
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


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sse_frames(url: str, group: str, pid: str, frames: list[dict[str, Any]]) -> threading.Event:
    """Read ``GET /poll/group/pid`` in the background, appending each data frame's JSON (every
    one: a message sent twice is there twice)."""
    connected = threading.Event()
    host, port = url.removeprefix("http://").split(":")

    def read() -> None:
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(f"GET /poll/{group}/{pid} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            pending = b""
            while chunk := sock.recv(65536):
                pending += chunk
                if b"\r\n\r\n" in pending and not connected.is_set():
                    connected.set()
                *lines, pending = pending.split(b"\n")
                frames.extend(json.loads(line[6:]) for line in lines if line.startswith(b"data: "))

    threading.Thread(target=read, daemon=True).start()
    assert connected.wait(10)
    return connected


def wait_for(frames: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while len(frames) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return frames
