"""Seeing what happens: the correlation id from request to webhook, the log fields, the metrics,
secrets and document text kept out of the logs, and a job that waits for a missing worker.

One stack with every secret set (API token, webhook secret, LLM key) and an LLM endpoint that
answers with the document's text and its own key in an invalid analysis, so the worker has to
log the failure without repeating either.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from docflow_cli.cli import app as cli
from docflow_samples import invoice_image
from docflow_testing.llm_stub import LLMStub, completion
from docflow_testing.receiver import Receiver, new_secret
from docflow_testing.stack import FileServer, LocalStack, running_stack
from typer.testing import CliRunner

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-observed-stack")]

API_TOKEN = "tok-7f3c9a51e2"
WEBHOOK_SECRET = new_secret()
LLM_KEY = "sk-llm-0c6e93f7d1"
SIGNATURE = "presigned-b48d2e11c7"  # the query of a presigned document URL
MARKER = "Confidential-Marker-91e4"  # a phrase of the document's own text
STUCK_AFTER = 3
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMStub]:
    stub = LLMStub()
    # Every analysis gets an invalid answer that quotes the document and the key.
    for _ in range(50):
        stub.answer(200, completion(json.dumps({"documentType": f"{MARKER} {LLM_KEY}"})))
    yield stub
    stub.close()


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory, llm: LLMStub) -> Iterator[LocalStack]:
    yield from running_stack(
        tmp_path_factory,
        "observed-stack",
        DOCFLOW_API_TOKEN=API_TOKEN,
        DOCFLOW_WEBHOOK_SECRET=WEBHOOK_SECRET,
        DOCFLOW_LLM_BASE_URL=llm.url,
        DOCFLOW_LLM_MODEL="stub-model",
        DOCFLOW_LLM_API_KEY=LLM_KEY,
        DOCFLOW_STUCK_AFTER=str(STUCK_AFTER),
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    hook = Receiver(WEBHOOK_SECRET)
    yield hook
    hook.close()


def text_document() -> bytes:
    return f"INVOICE\nInvoice No. INV-77\n{MARKER} terms apply.\nTotal: EUR 12.00\n".encode()


def scanned_pages(count: int) -> bytes:
    """A PDF of ``count`` scanned pages: OCR keeps its one page batch busy for a while."""
    pages = [invoice_image().convert("RGB") for _ in range(count)]
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=300)
    return out.getvalue()


def submit(
    stack: LocalStack, url: str, headers: dict[str, str] | None = None, **fields: Any
) -> tuple[str, httpx.Response]:
    job_id = f"obs-{uuid.uuid4().hex[:8]}"
    job = {"jobId": job_id, "documentUrl": url, "requesterId": "olivia", **fields}
    answer = httpx.post(
        f"{stack.gateway}/process-document", json=job, headers={**AUTH, **(headers or {})}
    )
    assert answer.status_code == 202, answer.text
    return job_id, answer


def finished(current: dict[str, Any]) -> bool:
    return current["status"] not in ("processing", "awaiting_approval")


def json_lines(stack: LocalStack) -> dict[str, list[dict[str, Any]]]:
    """Every process's JSON log lines (EMF metric lines included), by log file."""
    found = {}
    for path in sorted((stack.state_dir / "logs").glob("*.log")):
        lines = path.read_text(errors="replace").splitlines()
        found[path.stem] = [json.loads(line) for line in lines if line.startswith("{")]
    return found


def test_a_job_is_traced_from_its_request_to_its_webhook(
    observed: LocalStack, files: FileServer, receiver: Receiver
) -> None:
    trace = f"trace-{uuid.uuid4().hex[:8]}"
    url = files.serve(f"/{trace}.txt", text_document(), "text/plain")
    job_id, answer = submit(observed, url, {"X-Correlation-Id": trace}, callbackUrl=receiver.url())
    final = observed.wait_until(job_id, finished, headers=AUTH)
    deadline = time.monotonic() + 30
    while not receiver.for_job(job_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    retry_headers = {**AUTH, "X-Correlation-Id": "a-retry"}
    request = json.loads(answer.request.content)
    again = httpx.post(f"{observed.gateway}/process-document", json=request, headers=retry_headers)

    assert answer.headers["X-Correlation-Id"] == trace
    assert final["status"] == "done", final
    assert final["correlationId"] == trace
    [hook] = receiver.for_job(job_id)
    assert hook.headers["X-Correlation-Id"] == trace
    assert again.status_code == 202
    assert again.headers["X-Correlation-Id"] == trace, "a retry is answered with the job's id"
    logs = json_lines(observed)
    for process in ("gateway", "worker", "notifier"):
        mine = [line for line in logs[process] if line.get("jobId") == job_id]
        assert mine, f"no {process} line names {job_id}"
        assert {line.get("correlation_id") for line in mine} == {trace}, (process, mine)


def test_every_log_line_says_its_service_and_step_lines_their_job_step_and_attempt(
    observed: LocalStack, files: FileServer
) -> None:
    url = files.serve("/fields.txt", text_document(), "text/plain")
    job_id, _ = submit(observed, url)
    observed.wait_until(job_id, finished, headers=AUTH)

    # Every line of every docflow process is JSON with its service (moto and valkey, the local
    # stand-ins for S3/SQS and Redis, keep their own formats).
    for process in ("gateway", "worker", "notifier", "resonate", "sqs-poller"):
        lines = (observed.state_dir / "logs" / f"{process}.log").read_text().splitlines()
        not_json = [line for line in lines if not line.startswith("{")]
        assert not not_json, (process, not_json[:5])
    logs = json_lines(observed)
    records = [line for lines in logs.values() for line in lines if "_aws" not in line]
    assert all("service" in line for line in records), [r for r in records if "service" not in r]
    mine = [line for line in logs["worker"] if line.get("jobId") == job_id]
    steps = {line["step"] for line in mine}
    assert {"download", "extract_pages", "extract", "analyze", "store", "notify"} <= steps
    for line in mine:
        assert line["service"] == "docflow-worker"
        assert isinstance(line["attempt"], int), line
        assert line["worker"], line
    # The analyzer's own warning, written inside the step, carries the step's keys too.
    [fallback] = [line for line in mine if line["message"].startswith("LLM analyzer unavailable")]
    assert (fallback["step"], fallback["attempt"]) == ("analyze", 1)


def test_metrics_are_emitted_as_cloudwatch_emf(
    observed: LocalStack, files: FileServer, receiver: Receiver
) -> None:
    url = files.serve("/metrics.txt", text_document(), "text/plain")
    job_id, answer = submit(observed, url, callbackUrl=receiver.url())
    observed.wait_until(job_id, finished, headers=AUTH)
    request = json.loads(answer.request.content)
    httpx.post(f"{observed.gateway}/process-document", json=request, headers=AUTH)  # a retry
    httpx.post(f"{observed.gateway}/process-document", json={"jobId": "x"}, headers=AUTH)
    deadline = time.monotonic() + 30
    while not receiver.for_job(job_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # the notifier writes its metric line after the delivery

    def metrics(process: str) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for line in json_lines(observed)[process]:
            for block in line.get("_aws", {}).get("CloudWatchMetrics", []):
                assert block["Namespace"] == "docflow"
                for metric in block["Metrics"]:
                    found.setdefault(metric["Name"], []).append(line)
        return found

    trigger, worker, notifier = metrics("gateway"), metrics("worker"), metrics("notifier")
    assert {"JobsAccepted", "JobsDeduplicated", "JobsRefused"} <= set(trigger)
    assert {line["step"] for line in worker["StepDuration"]} >= {"download", "analyze", "notify"}
    assert all(line["StepAttempts"] in ([1], 1) for line in worker["StepAttempts"])
    assert any(line["outcome"] == "done" for line in worker["JobDuration"])
    assert any(line["outcome"] == "delivered" for line in notifier["WebhookDeliveries"])


def test_secrets_and_document_text_never_reach_the_logs(
    observed: LocalStack, files: FileServer, receiver: Receiver, llm: LLMStub
) -> None:
    url = files.serve("/secret.txt", text_document(), "text/plain") + f"?sig={SIGNATURE}"
    job_id, _ = submit(observed, url, callbackUrl=receiver.url())
    final = observed.wait_until(job_id, finished, headers=AUTH)
    # A download that fails names its URL, but not the URL's query.
    missing = files.url("/missing.pdf") + f"?sig={SIGNATURE}"
    failed_id, _ = submit(observed, missing)
    failed = observed.wait_until(failed_id, finished, headers=AUTH)

    assert final["status"] == "done"
    assert final["result"]["analyzer"] == "heuristic"  # the LLM's answer was refused
    assert "not a valid analysis" in final["result"]["fallbackReason"]
    assert any(MARKER in body["messages"][1]["content"] for _h, body in llm.requests)
    assert failed["error"]["reason"] == "not_found"
    assert SIGNATURE not in failed["error"]["message"]
    for path in (observed.state_dir / "logs").glob("*.log"):
        text = path.read_text(errors="replace")
        for secret in (API_TOKEN, WEBHOOK_SECRET, LLM_KEY, SIGNATURE, MARKER):
            assert secret not in text, f"{secret} is in {path.name}"


def test_a_job_without_a_live_worker_says_since_when_it_waits(
    observed: LocalStack, files: FileServer
) -> None:
    url = files.serve("/scanned-10.pdf", scanned_pages(10), "application/pdf")
    # A long step on a live worker is not waiting: its heartbeats show it alive.
    job_id, _ = submit(observed, url)
    observed.wait_until(job_id, lambda s: s["step"] == "extract", headers=AUTH)
    seen = []
    while not finished(current := observed.status(job_id, AUTH)):
        seen.append(current["waitingForWorkerSince"])
        time.sleep(0.3)
    extract = next(step for step in current["steps"] if step["name"] == "extract")
    extract_seconds = _epoch(extract["endedAt"]) - _epoch(extract["startedAt"])
    # The worker is killed mid-step: after STUCK_AFTER without a sign of it, the job says so.
    other_id, _ = submit(observed, url)
    observed.wait_until(other_id, lambda s: s["step"] == "extract", headers=AUTH)
    killed_at = time.time()
    observed.kill9("worker")
    stuck = observed.wait_until(
        other_id, lambda s: s["waitingForWorkerSince"] is not None, 30, headers=AUTH
    )
    # No worker at all: a new job waits from the moment it was accepted.
    new_id, _ = submit(observed, url)
    waiting = observed.wait_until(
        new_id, lambda s: s["waitingForWorkerSince"] is not None, 30, headers=AUTH
    )
    env = {"DOCFLOW_GATEWAY": observed.gateway, "DOCFLOW_API_TOKEN": API_TOKEN, "COLUMNS": "200"}
    said = CliRunner().invoke(cli, ["status", new_id], env=env)
    observed.run("up")
    resumed = observed.wait_until(other_id, finished, 120, headers=AUTH)
    new = observed.wait_until(new_id, finished, 120, headers=AUTH)

    assert extract_seconds > STUCK_AFTER, "a step longer than STUCK_AFTER"
    assert set(seen) == {None}
    since = _epoch(stuck["waitingForWorkerSince"])
    assert killed_at - STUCK_AFTER <= since <= killed_at + 0.5, (since, killed_at)
    assert stuck["status"] == "processing"
    assert waiting["waitingForWorkerSince"] == waiting["createdAt"]
    assert said.exit_code == 0, said.output
    assert "waiting for a worker since" in said.stdout, said.stdout
    assert (resumed["status"], new["status"]) == ("done", "done")
    assert (resumed["waitingForWorkerSince"], new["waitingForWorkerSince"]) == (None, None)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_jobs_are_listed_newest_first_and_filtered_by_status(
    observed: LocalStack, files: FileServer
) -> None:
    ok_url = files.serve("/listed.txt", text_document(), "text/plain")
    done_id, _ = submit(observed, ok_url)
    failed_id, _ = submit(observed, files.url("/listed-missing.pdf"))
    observed.wait_until(done_id, finished, headers=AUTH)
    observed.wait_until(failed_id, finished, headers=AUTH)

    def listed(query: str) -> httpx.Response:
        return httpx.get(f"{observed.gateway}/jobs{query}", headers=AUTH, timeout=30)

    everything = listed("?limit=100").json()["jobs"]
    ids = [job["jobId"] for job in everything]
    done = [job["jobId"] for job in listed("?status=done&limit=100").json()["jobs"]]
    failed = [job["jobId"] for job in listed("?status=failed").json()["jobs"]]
    created = [job["createdAt"] for job in everything]

    assert ids.index(failed_id) < ids.index(done_id), "newest first"
    assert created == sorted(created, reverse=True)
    assert done_id in done
    assert failed_id not in done
    assert failed_id in failed
    assert done_id not in failed
    assert len(listed("?limit=1").json()["jobs"]) == 1
    assert listed("?status=sleeping").status_code == 422
    assert listed("?limit=0").status_code == 422
    assert httpx.get(f"{observed.gateway}/jobs", timeout=30).status_code == 401
