"""A webhook receiver on 127.0.0.1 that checks every signature and records what it got."""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from docflow_notifier.signing import verify


@dataclass
class Received:
    event_id: str
    body: dict[str, Any]
    signed: bool
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    secret: str
    status: int = 200  # what it answers
    delay: float = 0.0  # seconds before answering
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                signed = verify(
                    receiver.secret,
                    self.headers.get("X-Docflow-Timestamp", ""),
                    body,
                    self.headers.get("X-Docflow-Signature", ""),
                )
                time.sleep(receiver.delay)
                status = receiver.status
                if 200 <= status < 300:
                    with receiver.lock:
                        receiver.received.append(
                            Received(
                                self.headers.get("X-Docflow-Event-Id", ""),
                                json.loads(body),
                                signed,
                                dict(self.headers),
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
            return [r for r in self.received if r.body.get("jobId") == job_id]

    def close(self) -> None:
        self.server.shutdown()
