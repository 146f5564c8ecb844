"""The whole local stack for e2e tests: ``docflow-stack up`` on free ports in a temp state dir."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis
from docflow_shared.ids import workflow_id
from docflow_shared.progress import JobProgress, progress_key
from docflow_shared.resonate_http import ResonateHttp
from docflow_shared.workflow import NOTIFICATION_STREAM
from docflow_shared.workflow_records import read_workflow

from docflow_testing.processes import BIN, ROOT, Process, free_port

#: A job's steps at the newest workflow version, as the status names them (written out, not
#: read from the code: a step the workflow loses or gains by mistake fails the e2e tests).
STEPS = ["download", "extract", "analyze", "verify", "store", "notify"]
#: And at version 1, which jobs still in flight on it finish with.
STEPS_V1 = ["download", "extract", "analyze", "store", "notify"]
#: A job that needs approval: the reviewer's decision is recorded before store.
REVIEW_STEPS = [*STEPS[:-2], "review", *STEPS[-2:]]


@dataclass
class LocalStack:
    state_dir: Path
    env: dict[str, str]
    printed: str = ""  # what `docflow-stack up` printed

    @classmethod
    def up(cls, state_dir: Path, **settings: str) -> LocalStack:
        env = {
            **os.environ,
            "DOCFLOW_STATE_DIR": str(state_dir),
            "DOCFLOW_RUNTIME": "native",  # the processes under test, even where Docker runs
            "DOCFLOW_GATEWAY_PORT": str(free_port()),
            "RESONATE_SERVER__PORT": str(free_port()),
            "RESONATE_OBSERVABILITY__METRICS_PORT": str(free_port()),
            "DOCFLOW_NOTIFIER_PORT": str(free_port()),
            "DOCFLOW_REDIS_PORT": str(free_port()),
            "DOCFLOW_AWS_PORT": str(free_port()),
            "DOCFLOW_URL_ALLOWLIST": "127.0.0.1",
            "DOCFLOW_TASK_TTL": "2",
            # Two execution environments per function, not four: a test needs side-by-side
            # requests, not a suite of stacks each able to take every core from the others.
            "DOCFLOW_LAMBDA_CONCURRENCY": "2",
            **settings,
        }
        stack = cls(state_dir, env)
        try:
            stack.printed = stack.run("up")
        except AssertionError:
            stack.run("down")  # stop what did start, so a failed start leaves nothing behind
            raise
        return stack

    def run(self, command: str) -> str:
        done = subprocess.run(
            [str(BIN / "docflow-stack"), command],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.env['DOCFLOW_GATEWAY_PORT']}"

    @property
    def resonate(self) -> str:
        return f"http://127.0.0.1:{self.env['RESONATE_SERVER__PORT']}"

    def kill9(self, process: str) -> None:
        self.signal(process, signal.SIGKILL)

    def signal(self, process: str, sig: int) -> int:
        pid = int((self.state_dir / "run" / f"{process}.pid").read_text())
        os.killpg(pid, sig)
        return pid

    def environment(self, process: str = "worker") -> dict[str, str]:
        """The environment ``docflow-stack up`` started ``process`` with: to start another one
        like it (a second worker of the group)."""
        pid = int((self.state_dir / "run" / f"{process}.pid").read_text())
        raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
        return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)

    def command(self, process: str = "worker") -> list[str]:
        """The command line ``docflow-stack up`` started ``process`` with (with
        ``environment()``: to start another one like it)."""
        pid = int((self.state_dir / "run" / f"{process}.pid").read_text())
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")

    def another_worker(self, log: Path, versions: str) -> Process:
        """Start a worker like the stack's (its command line and environment) that runs the
        workflow ``versions`` ("1,2"): a rolling deploy's new worker."""
        command = self.command()
        if "--workflow-versions" in command:
            at = command.index("--workflow-versions")
            del command[at : at + 2]
        return Process([*command, "--workflow-versions", versions], log, self.environment()).start()

    def log(self, process: str) -> str:
        return (self.state_dir / "logs" / f"{process}.log").read_text(errors="replace")

    def step_attempts(self, job_id: str) -> dict[str, int]:
        """How many attempts each step of ``job_id`` that began has had, by any worker: the
        status API's ``steps[].attempts`` (a retry, or a killed worker's attempt, counts)."""
        steps = self.status(job_id)["steps"]
        return {step["name"]: step["attempts"] for step in steps if step.get("attempts")}

    def batch_attempts(self, job_id: str) -> dict[tuple[int, int], int]:
        """How many attempts each of extract's page batches has had: ``(first, last)``, from the
        workers' progress record."""
        return {pages: step.attempts for pages, step in self.progress(job_id).page_batches.items()}

    def progress(self, job_id: str) -> JobProgress:
        """The workers' progress record of ``job_id`` (``docflow_shared.progress``)."""
        client = redis.Redis(port=int(self.env["DOCFLOW_REDIS_PORT"]), decode_responses=True)
        with client:
            fields = cast("dict[str, str]", client.hgetall(progress_key(job_id)))
            return JobProgress.from_hash(fields)

    def notifications(self, job_id: str) -> list[dict[str, Any]]:
        """The events on the notification stream about ``job_id``, oldest first."""
        client = redis.Redis(port=int(self.env["DOCFLOW_REDIS_PORT"]), decode_responses=True)
        with client:
            entries = cast("list[tuple[str, dict[str, str]]]", client.xrange(NOTIFICATION_STREAM))
        events = [json.loads(fields["event"]) for _, fields in entries]
        return [event for event in events if event.get("jobId") == job_id]

    def batches_done(self, job_id: str) -> list[tuple[int, int]]:
        """extract's page batches whose checkpoint is written, ``(first, last)``, from Resonate."""
        records = read_workflow(ResonateHttp(self.resonate, 10), workflow_id(job_id))
        done = [cast("dict[str, int]", b.value) for b in records.page_batches
                if b.state == "resolved"]  # fmt: skip
        return sorted((batch["first"], batch["last"]) for batch in done)

    def token(self, subject: str, *groups: str) -> str:
        """A token of the stack's dev issuer (``DOCFLOW_AUTH=jwt``) for ``subject``."""
        minted = httpx.post(f"{self.gateway}/dev-issuer/token",
                            json={"sub": subject, "groups": list(groups)}, timeout=30)  # fmt: skip
        assert minted.status_code == 200, minted.text
        return str(minted.json()["token"])

    def submit(self, job: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.gateway}/process-document", json=job, timeout=30)

    def start_job(self, document_url: str, prefix: str, **fields: Any) -> str:
        """Submit a new job for ``document_url`` (requester alice, a fresh id that starts with
        ``prefix``, and ``fields``); its id, once accepted."""
        job_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
        job = {"jobId": job_id, "documentUrl": document_url, "requesterId": "alice", **fields}
        answer = self.submit(job)
        assert answer.status_code == 202, answer.text
        return job_id

    def status(self, job_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        answer = httpx.get(f"{self.gateway}/status/{job_id}", headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def wait_until(
        self,
        job_id: str,
        reached: Callable[[dict[str, Any]], object],
        timeout: float = 90,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The job's status once ``reached`` holds for it (polled; with ``headers``: a signed-in
        caller's view)."""
        deadline = time.monotonic() + timeout
        while not reached(status := self.status(job_id, headers)):
            assert time.monotonic() < deadline, f"{job_id} never got there: {status}"
            time.sleep(0.1)
        return status

    def wait_for(
        self, job_id: str, *statuses: str, timeout: float = 90,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """The job's status once it is one of ``statuses``."""
        return self.wait_until(job_id, lambda s: s["status"] in statuses, timeout, headers)

    def wait_finished(
        self, job_id: str, timeout: float = 120, queued: bool = False
    ) -> dict[str, Any]:
        """The job's final status; ``queued``: the job may not exist yet (it is still in SQS)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                queued
                and httpx.get(f"{self.gateway}/status/{job_id}", timeout=30).status_code == 404
            ):
                time.sleep(0.2)
                continue
            status = self.status(job_id)
            if status["status"] not in ("processing", "awaiting_approval"):
                return status
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not finish: {self.status(job_id)}")

    def down(self) -> None:
        self.run("down")


def running_stack(
    tmp_path_factory: pytest.TempPathFactory, name: str, **settings: str
) -> Iterator[LocalStack]:
    """A stack fixture's body: up on fresh ports and state, down after the last test."""
    local = LocalStack.up(tmp_path_factory.mktemp(name), **settings)
    yield local
    local.down()


class FileServer:
    """Serves generated documents on 127.0.0.1 (the worker's allow-listed test source)."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.redirects: dict[str, str] = {}
        self.hosts: list[str] = []  # the Host header of each request
        self.delays: dict[str, float] = {}  # seconds before answering, per path
        self.drips: dict[str, float] = {}  # seconds between the body's bytes, per path
        files, redirects, hosts, delays, drips = (
            self.files,
            self.redirects,
            self.hosts,
            self.delays,
            self.drips,
        )

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hosts.append(self.headers.get("Host", ""))
                path = self.path.split("?")[0]  # a query (a presigned URL's) selects nothing
                time.sleep(delays.get(path, 0))
                if path in redirects:
                    self.send_response(302)
                    self.send_header("Location", redirects[path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                found = files.get(path)
                if found is None:
                    self.send_error(404)
                    return
                body, content_type = found
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if path in drips:  # a byte at a time, slowly: a source that never stalls
                    for i in range(len(body)):
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(drips[path])
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, path: str, body: bytes, content_type: str = "application/octet-stream") -> str:
        self.files[path] = (body, content_type)
        return self.url(path)

    def redirect(self, path: str, location: str) -> None:
        self.redirects[path] = location

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
