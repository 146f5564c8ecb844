"""``docflow``, the CLI (docs/cli.md): every command against the real local stack, invoked
in-process as a terminal would run it (its formatting on its own: tests/unit/test_cli.py)."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from docflow_cli.cli import Api, app
from docflow_samples import invoice_pdf, unsure_invoice_pdf
from docflow_testing.cli_output import ANSI_CONTROL, row
from docflow_testing.processes import BIN, free_port
from docflow_testing.stack import STEPS, FileServer, LocalStack
from typer.testing import CliRunner, Result

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-stack")]


Docflow = Callable[..., Result]


@pytest.fixture
def docflow(stack: LocalStack) -> Docflow:
    """Run ``docflow ARGS`` in-process, set up as a shell next to that stack would be (its
    AWS configuration pointing at the stack's moto server, as a user's would at AWS)."""
    env = {
        "DOCFLOW_GATEWAY": stack.gateway,
        "DOCFLOW_GATEWAY_URL": None,
        "DOCFLOW_STATE_DIR": str(stack.state_dir),
        "DOCFLOW_QUEUE_URL": None,
        "DOCFLOW_UPLOAD_BUCKET": None,
        "DOCFLOW_INBOX_BUCKET": None,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{stack.env['DOCFLOW_AWS_PORT']}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "COLUMNS": "200",
    }

    def run(*args: str, **more_env: str) -> Result:
        return CliRunner().invoke(app, list(args), env=env | more_env)

    return run


def local_s3(stack: LocalStack) -> Any:
    """An S3 client on the stack's moto server, as a user's AWS configuration would point it."""
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{stack.env['DOCFLOW_AWS_PORT']}",
                        region_name="us-east-1", aws_access_key_id="local",
                        aws_secret_access_key="local")  # fmt: skip


def new_job_id(prefix: str) -> str:
    return f"cli-{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def document(files: FileServer) -> str:
    return files.serve("/cli-invoice.pdf", invoice_pdf(), "application/pdf")


@pytest.fixture(scope="module")
def done_job(stack: LocalStack, document: str) -> str:
    job_id = new_job_id("done")
    answer = stack.submit({"jobId": job_id, "documentUrl": document, "requesterId": "alice"})
    assert answer.status_code == 202, answer.text
    assert stack.wait_finished(job_id)["status"] == "done"
    return job_id


def accepted_job(result: Result) -> str:
    """The job id of ``submit --json`` (without --wait): the API's 202 answer."""
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["status"] == "accepted"
    return str(answer["jobId"])


def test_submit_uploads_a_local_file_to_the_named_bucket_and_waits_until_done(
    docflow: Docflow, tmp_path: Path
) -> None:
    scan = tmp_path / "invoice.pdf"
    scan.write_bytes(invoice_pdf())
    job_id = new_job_id("file")

    result = docflow("submit", str(scan), "--bucket", "docflow-artifacts", "--job-id", job_id,
                     "--type", "invoice", "--wait")  # fmt: skip

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{job_id}: accepted by the API (docflow status {job_id} --watch)"
    assert lines[1].split()[:2] == [job_id, "done"]
    assert [row(result.stdout, step)[1] for step in STEPS] == ["done"] * len(STEPS)
    assert '"vendor"' in result.stdout
    assert '"value": "ACME Tools Ltd"' in result.stdout


def test_status_watch_redraws_the_steps_live_until_the_job_is_done(
    docflow: Docflow, stack: LocalStack, document: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = new_job_id("watch")
    # The deadline ends the watch (timed_out, a failure) should the approval never come.
    job = {"jobId": job_id, "documentUrl": document, "requesterId": "alice"}
    assert stack.submit(job | {"requireApproval": True, "deadlineSeconds": 60}).status_code == 202
    # What the watch has been answered: the reviewer decides once it has drawn the waiting job
    # (however slowly a loaded machine answers each poll).
    drawn_waiting = threading.Event()
    polled = Api.job_status

    def job_status(api: Api, polled_id: str) -> dict[str, Any]:
        status = polled(api, polled_id)
        if status["status"] == "awaiting_approval":
            drawn_waiting.set()
        return status

    monkeypatch.setattr(Api, "job_status", job_status)

    def approve_once_shown_waiting() -> None:
        if drawn_waiting.wait(timeout=60):
            decision = {"approved": True, "reviewer": "bob"}
            httpx.post(f"{stack.gateway}/jobs/{job_id}/approval", json=decision, timeout=30)

    reviewer = threading.Thread(target=approve_once_shown_waiting)
    reviewer.start()
    # A terminal (TTY_COMPATIBLE): Rich redraws in place, each frame after the last.
    result = docflow("status", job_id, "--watch", TTY_COMPATIBLE="1", NO_COLOR="1")
    reviewer.join()

    assert result.exit_code == 0, result.output
    assert "\x1b[1A" in result.stdout  # redrawn in place: the cursor went back up
    shown = ANSI_CONTROL.sub("", result.stdout)
    waiting = shown.index(f"{job_id}  awaiting_approval")  # a frame drawn while it waited
    assert shown.rindex(f"{job_id}  done") > waiting  # the final view, last


def test_status_watch_of_a_failed_job_exits_1_with_its_reason(
    docflow: Docflow, files: FileServer
) -> None:
    job_id = accepted_job(docflow("submit", files.url("/cli-missing.pdf"), "--json"))

    shown = docflow("status", job_id, "--watch")
    as_json = docflow("status", job_id, "--watch", "--json")

    assert shown.exit_code == 1, shown.output
    assert f"failed: not_found: {files.url('/cli-missing.pdf')}" in shown.stdout
    assert row(shown.stdout, "download")[1] == "failed"
    assert as_json.exit_code == 1
    final = json.loads(as_json.stdout)
    assert (final["status"], final["error"]["reason"]) == ("failed", "not_found")


def test_approve_a_job_submitted_with_require_approval(
    docflow: Docflow, stack: LocalStack, document: str
) -> None:
    job_id = accepted_job(docflow("submit", document, "--require-approval", "--json"))
    stack.wait_for(job_id, "awaiting_approval")

    waiting = docflow("status", job_id)
    approved = docflow("approve", job_id, "--reviewer", "bob", "--comment", "fine")
    final = docflow("status", job_id, "--watch", "--json")

    assert waiting.exit_code == 0, waiting.output
    assert f"awaiting approval: docflow approve {job_id} --reviewer NAME" in waiting.stdout
    assert approved.exit_code == 0, approved.output
    assert approved.stdout.startswith(f"{job_id}: approved: it resumes")
    assert final.exit_code == 0, final.output
    approval = json.loads(final.stdout)["result"]["approval"]
    assert approval == {"approvedBy": "bob", "comment": "fine"}


def test_auto_review_and_corrections_from_the_cli(
    docflow: Docflow, stack: LocalStack, document: str, files: FileServer
) -> None:
    """--auto-review lets a sure invoice through and stops an unsure one; approve --set
    corrects its fields; a bad correction is the API's 422, said plainly."""
    unsure = files.serve("/cli-unsure.pdf", unsure_invoice_pdf(), "application/pdf")
    sure_id = accepted_job(docflow("submit", document, "--auto-review", "--json"))
    unsure_id = accepted_job(docflow("submit", unsure, "--auto-review", "--json"))
    both = docflow("submit", document, "--auto-review", "--require-approval")
    stack.wait_for(unsure_id, "awaiting_approval")

    wrong = docflow("approve", unsure_id, "--reviewer", "bob", "--set", "total=lots")
    approved = docflow("approve", unsure_id, "--reviewer", "bob", "--set", "total=350.00")
    finals = [json.loads(docflow("status", job, "--watch", "--json").stdout)
              for job in (sure_id, unsure_id)]  # fmt: skip

    assert both.exit_code == 2
    assert "choose one of --require-approval and --auto-review" in both.output
    assert wrong.exit_code == 2  # refused
    assert "'lots' is not an amount" in wrong.output
    assert approved.exit_code == 0, approved.output
    assert [f["status"] for f in finals] == ["done", "done"]
    assert "approval" not in finals[0]["result"], "sure: through without a person"
    total = finals[1]["result"]["fields"]["total"]
    assert (total["value"], total["source"]) == ("350.00", "reviewer")


def test_reject_and_cancel_end_their_jobs_and_status_exits_1(
    docflow: Docflow, stack: LocalStack, document: str
) -> None:
    rejected, canceled = (
        accepted_job(docflow("submit", document, "--require-approval", "--json")) for _ in range(2)
    )
    for job_id in (rejected, canceled):
        stack.wait_for(job_id, "awaiting_approval")

    reject = docflow("reject", rejected, "--reviewer", "bob", "--comment", "dup", "--json")
    cancel = docflow("cancel", canceled, "--json")
    ends = [docflow("status", job_id, "--watch", "--json") for job_id in (rejected, canceled)]

    assert (reject.exit_code, json.loads(reject.stdout)["action"]) == (0, "rejected")
    assert (cancel.exit_code, json.loads(cancel.stdout)["action"]) == (0, "cancel_requested")
    ended = [(end.exit_code, json.loads(end.stdout)["status"]) for end in ends]
    assert ended == [(1, "rejected"), (1, "canceled")]
    assert json.loads(ends[0].stdout)["error"]["message"] == "rejected by bob: dup"


def test_jobs_lists_the_done_jobs(docflow: Docflow, done_job: str) -> None:
    shown = docflow("jobs", "--status", "done", "--limit", "100")
    as_json = docflow("jobs", "--status", "done", "--limit", "100", "--json")

    assert shown.exit_code == 0, shown.output
    assert row(shown.stdout, done_job)[:2] == [done_job, "done"]
    assert as_json.exit_code == 0, as_json.output
    listed = json.loads(as_json.stdout)["jobs"]
    assert done_job in [job["jobId"] for job in listed]
    assert {job["status"] for job in listed} == {"done"}


def test_stack_logs_merge_the_jobs_lines_from_the_worker_and_the_gateway(
    stack: LocalStack, done_job: str
) -> None:
    def stack_logs(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "docflow-stack"), "logs", done_job, *args],
                              env=stack.env, capture_output=True, text=True, timeout=60,
                              check=False)  # fmt: skip

    shown = stack_logs()
    as_json = stack_logs("--json")

    assert shown.returncode == 0, shown.stderr
    assert "[download, attempt 1]" in shown.stdout  # the worker's line, with its step
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {record["jobId"] for record in records} == {done_job}
    assert {"worker", "gateway"} <= {record["process"] for record in records}
    times = [datetime.fromisoformat(record["timestamp"]) for record in records]
    assert times == sorted(times)
    assert len(shown.stdout.splitlines()) == len(records)


def test_an_api_refusal_is_one_line_and_exit_code_2(docflow: Docflow) -> None:
    result = docflow("approve", "no-such-job", "--reviewer", "bob")

    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("docflow: refused: ")
    assert line.endswith("(404 not_found)")


def test_a_stack_that_is_not_running_is_one_line_and_exit_code_3(tmp_path: Path) -> None:
    # The installed console script, as a person would run it, against a port nobody serves.
    nobody = f"http://127.0.0.1:{free_port()}"

    result = subprocess.run(
        [str(BIN / "docflow"), "status", "some-job", "--gateway", nobody],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 3
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("docflow: nothing answers")
    assert line.endswith("start it with make up")


def test_submit_queued_through_sqs_waits_for_the_job_to_appear(
    docflow: Docflow, stack: LocalStack, document: str
) -> None:
    job_id = new_job_id("sqs")

    queue = f"http://127.0.0.1:{stack.env['DOCFLOW_AWS_PORT']}/000000000000/docflow-jobs"

    result = docflow("submit", document, "--job-id", job_id, "--via", "sqs", "--queue-url", queue,
                     "--wait", "--json")  # fmt: skip

    assert result.exit_code == 0, result.output
    final = json.loads(result.stdout)
    assert (final["jobId"], final["status"]) == (job_id, "done")


def test_a_local_file_without_a_bucket_is_refused_and_nothing_is_uploaded(
    docflow: Docflow, stack: LocalStack, tmp_path: Path
) -> None:
    scan = tmp_path / "nowhere.pdf"
    scan.write_bytes(invoice_pdf())
    s3 = local_s3(stack)

    result = docflow("submit", str(scan), "--job-id", new_job_id("nobucket"))

    assert result.exit_code == 2
    assert "name the bucket to upload it to (--bucket)" in result.output
    uploads = s3.list_objects_v2(Bucket="docflow-artifacts", Prefix="uploads/").get("Contents", [])
    assert not [o for o in uploads if o["Key"].endswith("-nowhere.pdf")]


def test_an_invalid_job_is_refused_before_anything_is_sent(docflow: Docflow) -> None:
    result = docflow("submit", "ftp://example.com/a.pdf", "--job-id", "bad id!")

    assert result.exit_code == 2
    assert "not a valid job" in result.output
    assert "jobId" in result.output
    assert "documentUrl" in result.output


def test_the_local_stacks_submit_takes_its_defaults_and_the_users_options_win(
    stack: LocalStack, tmp_path: Path
) -> None:
    scan = tmp_path / "elsewhere.pdf"
    scan.write_bytes(invoice_pdf())
    s3 = local_s3(stack)
    s3.create_bucket(Bucket="elsewhere")

    def submit(*options: str) -> str:
        done = subprocess.run(
            [str(BIN / "docflow-stack"), "submit", str(scan), *options, "--json"],
            env=stack.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return str(json.loads(done.stdout)["jobId"])

    local = submit("--job-id", new_job_id("local-default"))
    chosen = submit("--bucket=elsewhere", "--job-id", new_job_id("user-bucket"))

    assert stack.wait_finished(local)["status"] == "done"
    assert stack.wait_finished(chosen)["status"] == "done"
    [chosen_upload] = s3.list_objects_v2(Bucket="elsewhere")["Contents"]
    local_uploads = s3.list_objects_v2(Bucket="docflow-artifacts", Prefix="uploads/")["Contents"]
    assert chosen_upload["Key"].endswith("-elsewhere.pdf")
    assert [o for o in local_uploads if o["Key"].endswith("-elsewhere.pdf")]
