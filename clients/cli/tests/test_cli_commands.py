"""``docflow``, the CLI (docs/cli.md), without a stack: its formatting and exit codes on real
inputs (the commands against the real stack: tests/e2e/test_cli.py)."""

from __future__ import annotations

import importlib.util
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from docflow_cli.cli import (
    app,
    duration,
    exit_code_for,
    jobs_table,
    outcome_view,
    refusal_line,
    status_view,
)
from docflow_shared.models import ErrorBody, JobStatus, JobStatusName
from docflow_testing.cli_output import row
from rich.console import Console, RenderableType
from typer.testing import CliRunner

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 25, 12, 5, 15, tzinfo=UTC)


def wire_status(**fields: Any) -> dict[str, Any]:
    """A job's status as the API sends it, checked against the contract's model."""
    status = {
        "jobId": "inv-7",
        "status": "processing",
        "step": "analyze",
        "steps": [
            {"name": "download", "state": "done", "startedAt": "2026-11-25T12:00:00+00:00",
             "endedAt": "2026-11-25T12:00:01.500000+00:00", "attempts": 1, "worker": "vm:101"},
            {"name": "extract", "state": "done", "startedAt": "2026-11-25T12:00:02+00:00",
             "endedAt": "2026-11-25T12:02:07+00:00", "attempts": 2, "worker": "vm:202"},
            {"name": "analyze", "state": "running", "startedAt": "2026-11-25T12:05:03+00:00",
             "endedAt": None, "attempts": 1, "worker": "vm:202"},
            {"name": "store", "state": "pending", "startedAt": None, "endedAt": None,
             "attempts": None, "worker": None},
            {"name": "notify", "state": "pending", "startedAt": None, "endedAt": None,
             "attempts": None, "worker": None},
        ],
        "result": None,
        "error": None,
        "createdAt": "2026-11-25T11:59:59+00:00",
        "correlationId": "req-42",
        "waitingForWorkerSince": None,
        **fields,
    }  # fmt: skip
    JobStatus.model_validate(status)
    return status


def rendered(*renderables: RenderableType) -> str:
    console = Console(file=io.StringIO(), width=160, record=True)
    console.print(*renderables)
    return console.export_text()


def local_clock(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone().strftime("%H:%M:%S")


# --- without the stack: formatting and exit codes on real inputs --------------------------------


def test_the_exit_code_says_whether_the_job_ended_well() -> None:
    still_running_or_done = {"processing": 0, "awaiting_approval": 0, "done": 0}
    ended_badly = {"failed": 1, "rejected": 1, "canceled": 1, "timed_out": 1}
    expected = still_running_or_done | ended_badly

    assert {s.value: int(exit_code_for(s)) for s in JobStatusName} == expected


def test_durations_read_as_a_person_would_say_them() -> None:
    seconds = [0.42, 12.3, 125, 3725, 90000, -1]

    assert [duration(s) for s in seconds] == ["0.4s", "12s", "2m 05s", "1h 02m", "1d 01h", "0.0s"]


def test_each_step_shows_its_state_duration_attempts_and_worker() -> None:
    shown = rendered(status_view(wire_status(), NOW))

    assert shown.splitlines()[0].split()[:4] == ["inv-7", "processing", "step", "analyze"]
    assert "correlation req-42" in shown
    assert row(shown, "download") == ["download", "done", "1.5s", "1", "vm:101"]
    assert row(shown, "extract") == ["extract", "done", "2m", "05s", "2", "vm:202"]
    assert row(shown, "analyze") == ["analyze", "running", "12s", "1", "vm:202"]  # so far
    assert row(shown, "store") == ["store", "pending", "-", "-", "-"]
    assert "waiting for a worker" not in shown


def test_a_job_no_worker_has_says_so_in_words() -> None:
    stuck = wire_status(waitingForWorkerSince="2026-11-25T12:03:10+00:00")
    sentence = (
        f"waiting for a worker since {local_clock('2026-11-25T12:03:10+00:00')} (2m 05s)"
        " — is a worker running? (make up / make status)"
    )

    assert sentence in rendered(status_view(stuck, NOW))
    assert sentence in rendered(jobs_table([stuck], NOW))


def test_an_ended_job_shows_its_reason_and_a_done_one_its_result() -> None:
    error = {"reason": "not_found", "message": "http://x/a.pdf answered 404"}
    failed = wire_status(status="failed", step="download", error=error)
    done = wire_status(status="done", step=None, result={"documentType": "invoice"})

    assert rendered(outcome_view(failed)).strip() == f"failed: not_found: {error['message']}"
    assert json.loads(rendered(outcome_view(done))) == {"documentType": "invoice"}


def test_a_failed_job_that_can_be_redriven_says_how() -> None:
    error = {"reason": "internal_error", "message": "analyze failed: TypeError: boom"}
    failed = wire_status(status="failed", step="analyze", error=error, redrivable=True)
    for_good = wire_status(status="failed", step="analyze", error=error)

    assert rendered(outcome_view(failed)).splitlines()[1] == (
        "once the fix is deployed: docflow redrive inv-7 (it runs again from analyze)"
    )
    assert "redrive" not in rendered(outcome_view(for_good))


def test_an_api_refusal_is_one_line_with_its_message_code_and_fields() -> None:
    invalid = ErrorBody(
        error="validation_error",
        message="the request has invalid fields: approved, reviewer",
        details=[
            {"field": "approved", "problem": "Input should be a valid boolean", "type": "bool"},
            {"field": "reviewer", "problem": "String should have at least 1 character"},
        ],
    ).model_dump()

    assert refusal_line(422, invalid) == (
        "the request has invalid fields: approved, reviewer (422 validation_error): "
        "approved: Input should be a valid boolean; "
        "reviewer: String should have at least 1 character"
    )
    assert refusal_line(502, "<html>\n<h1>Bad Gateway</h1>\n</html>") == (
        "the API answered 502: <html> <h1>Bad Gateway</h1> </html>"
    )


def test_replay_check_without_the_workers_code_says_where_to_run_it() -> None:
    """This member's environment holds the CLI alone: replay-check needs the worker's code (the
    ``replay`` extra), and says so rather than fail on an import (with it: tests/integration)."""
    assert importlib.util.find_spec("docflow_worker") is None, "run alone, without the worker"

    checked = CliRunner().invoke(app, ["replay-check"])

    assert checked.exit_code == 2
    assert "replay-check runs the worker's workflow code" in checked.stderr
