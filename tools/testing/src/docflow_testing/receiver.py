"""A webhook receiver on 127.0.0.1 that checks every signature and records what it got.

Signatures are checked with the ``standardwebhooks`` library (a verifier nobody here wrote),
against each of the receiver's secrets, as a receiver in the middle of a rotation would.
"""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def new_secret() -> str:
    """A fresh Standard Webhooks secret (``whsec_`` + base64 of 32 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@dataclass
class Received:
    event_id: str
    body: dict[str, Any]
    signed: bool  # verified by the library with one of the receiver's secrets
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.body["data"])


@dataclass
class Receiver:
    secret: str  # or several, comma-separated: any one verifying counts
    status: int = 200  # what it answers
    delay: float = 0.0  # seconds before answering
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers)
                signed = any(verifies(s, body, headers) for s in receiver.secret.split(","))
                time.sleep(receiver.delay)
                status = receiver.status
                if 200 <= status < 300:
                    with receiver.lock:
                        receiver.received.append(
                            Received(
                                self.headers.get("webhook-id", ""),
                                json.loads(body),
                                signed,
                                headers,
                            )
                        )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def for_job(self, job_id: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.data.get("jobId") == job_id]

    def close(self) -> None:
        self.server.shutdown()
