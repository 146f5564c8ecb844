"""``docflow-stack logs JOB``: a job's lines from the local stack's log files, merged by time
(against the running stack: tests/e2e/test_cli.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from docflow_devstack.job_logs import JobLogReader, app
from typer.testing import CliRunner

pytestmark = pytest.mark.unit


def log_record(job_id: str, at: str, message: str, **extra: Any) -> str:
    """A powertools JSON line, logged at ``at`` on 2 January 2020 (UTC)."""
    timestamp = f"2020-01-02 {at}+0000"
    record = {"level": "INFO", "message": message, "timestamp": timestamp, "jobId": job_id}
    return json.dumps(record | extra) + "\n"


def shown_log_time(second: int) -> str:
    """How ``logs`` shows 12:00:SS on 2 January 2020 (UTC): local time, date and milliseconds."""
    moment = datetime(2020, 1, 2, 12, 0, second, tzinfo=UTC).astimezone()
    return f"{moment:%Y-%m-%d %H:%M:%S}.000"


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Two processes' logs as the stack writes them: JSON records among plain lines."""
    logs = tmp_path / "logs"
    logs.mkdir()
    download = {"step": "download", "attempt": 1}
    (logs / "worker.log").write_text(
        log_record("inv-7", "12:00:01,000", "step started", **download)
        + log_record("other", "12:00:01,500", "step started", **download)
        + log_record("inv-7", "12:00:03,000", "step done", **download)
    )
    (logs / "gateway.log").write_text(
        "2020-01-02 12:00:00,000 INFO docflow.gateway: local API gateway on ... /status/inv-7\n"
        + log_record("inv-7", "12:00:02,000", "job accepted")
        + '{"_aws": {}, "service": "docflow-trigger", "JobsAccepted": [1.0]}\n'
        + '{"jobId": "inv-7", "message": "no timestamp"}\n'
    )
    return logs


def test_a_jobs_log_lines_are_merged_across_processes_by_time(log_dir: Path) -> None:
    reader = JobLogReader(log_dir, "inv-7")

    lines = reader.read_new()

    assert [(line.process, line.record["message"]) for line in lines] == [
        ("worker", "step started"),
        ("gateway", "job accepted"),
        ("worker", "step done"),
    ]
    assert reader.read_new() == []


def test_a_line_still_being_written_is_read_once_it_is_complete(log_dir: Path) -> None:
    reader = JobLogReader(log_dir, "inv-7")
    reader.read_new()
    ended = log_record("inv-7", "12:00:04,000", "job ended")

    with (log_dir / "worker.log").open("a") as log:
        log.write(ended[:20])
        log.flush()
        half_written = reader.read_new()
        log.write(ended[20:])
    completed = reader.read_new()

    assert half_written == []
    assert [line.record["message"] for line in completed] == ["job ended"]


def test_logs_prints_time_process_level_message_step_and_attempt(log_dir: Path) -> None:
    runner = CliRunner()
    state_dir = str(log_dir.parent)

    shown = runner.invoke(app, ["inv-7", "--state-dir", state_dir])
    as_json = runner.invoke(app, ["inv-7", "--state-dir", state_dir, "--json"])
    nowhere = runner.invoke(app, ["inv-7", "--state-dir", str(log_dir / "none")])

    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines() == [
        f"{shown_log_time(1)}  worker     INFO    step started  [download, attempt 1]",
        f"{shown_log_time(2)}  gateway    INFO    job accepted",
        f"{shown_log_time(3)}  worker     INFO    step done  [download, attempt 1]",
    ]
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [record["process"] for record in records] == ["worker", "gateway", "worker"]
    assert {record["jobId"] for record in records} == {"inv-7"}
    assert nowhere.exit_code == 2
    assert "is the local stack running" in nowhere.stderr
