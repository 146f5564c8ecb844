"""Record the replay fixtures: real jobs of each shape, at each workflow version, run on the real
local stack and exported as ``docflow export-history`` exports them (tests/replay/v<N>/).

    scripts/uv run python tests/replay/record.py [VERSION ...]

Run it when a new version is added (for that version only: a version's recorded histories are
what jobs in flight on it look like, and stay as they were recorded). ``make test`` replays
every file here against the code of its version (services/worker/tests/test_replay.py).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from docflow_samples import invoice_pdf, long_text_pdf
from docflow_testing.processes import Process
from docflow_testing.stack import FileServer, LocalStack

HERE = Path(__file__).parent


def export(stack: LocalStack, job_id: str, path: Path) -> None:
    answer = httpx.get(f"{stack.gateway}/jobs/{job_id}/history", timeout=30)
    answer.raise_for_status()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(answer.text)
    print(f"{path.relative_to(HERE)}: {job_id}, {len(answer.json()['promises']) - 1} calls")


def wait_for(stack: LocalStack, job_id: str, ready: Callable[[dict[str, object]], bool]) -> None:
    deadline = time.monotonic() + 120
    while not ready(stack.status(job_id)):
        assert time.monotonic() < deadline, stack.status(job_id)
        time.sleep(0.2)


def decide(stack: LocalStack, job_id: str, approved: bool) -> None:
    body = {"approved": approved, "reviewer": "bob", "comment": "recorded"}
    answer = httpx.post(f"{stack.gateway}/jobs/{job_id}/approval", json=body, timeout=30)
    assert answer.status_code == 202, answer.text


def record(version: int, folder: Path, files: FileServer) -> None:
    invoice = files.serve("/invoice.pdf", invoice_pdf(), "application/pdf")
    contract = files.serve("/contract.pdf", long_text_pdf(12), "application/pdf")  # 2 batches
    settings = {"DOCFLOW_WORKFLOW_VERSION": str(version), "DOCFLOW_DEMO_FAILING_STEP": "analyze"}
    stack = LocalStack.up(folder / f"v{version}", **settings)
    out = HERE / f"v{version}"
    try:
        # First the failures, while the worker's analyze fails as a bug would.
        failing = stack.start_job(invoice, "redriven")
        wait_for(stack, failing, lambda s: s["status"] == "failed")
        command = stack.command()
        fixed = command[: command.index("--demo-failing-step")]
        worker = Process(fixed, folder / "fixed-worker.log", stack.environment()).start()
        stack.kill9("worker")
        try:
            answer = httpx.post(f"{stack.gateway}/jobs/{failing}/redrive", timeout=30)
            assert answer.status_code == 202, answer.text
            plain = stack.start_job(invoice, "plain")
            pages = stack.start_job(contract, "page-batches")
            approved = stack.start_job(invoice, "approved", requireApproval=True)
            rejected = stack.start_job(invoice, "rejected", requireApproval=True)
            for job_id, decision in [(approved, True), (rejected, False)]:
                wait_for(stack, job_id, lambda s: s["status"] == "awaiting_approval")
                export(stack, job_id, out / f"{job_id.split('-')[0]}-awaiting.json")
                decide(stack, job_id, decision)
            for job_id in (failing, plain, pages, approved, rejected):
                stack.wait_finished(job_id)
                export(stack, job_id, out / f"{job_id.rsplit('-', 1)[0]}.json")
        finally:
            worker.kill9()
    finally:
        stack.down()


def main() -> None:
    versions = [int(v) for v in sys.argv[1:]] or [1, 2]
    files = FileServer()
    try:
        with tempfile.TemporaryDirectory(prefix="docflow-replay-") as folder:
            for version in versions:
                record(version, Path(folder), files)
    finally:
        files.close()


if __name__ == "__main__":
    main()
