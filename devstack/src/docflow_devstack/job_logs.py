"""``docflow-stack logs JOB``: a job's log lines from every process of the local stack.

The processes ``make up`` starts write JSON lines to ``$DOCFLOW_STATE_DIR/logs/<process>.log``;
this reads the lines that carry the job's ``jobId``, merged by their timestamps. (A deployment's
logs are in CloudWatch Logs.)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from docflow_cli.cli import POLL_SECONDS, AsJson, JobId, clock, parse_time, stdout, utc_now
from rich.text import Text

LEVEL_STYLES = {"WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}

app = typer.Typer(add_completion=False, no_args_is_help=True)


@dataclass(frozen=True)
class LogLine:
    time: datetime
    process: str  # the stack process whose log it is: worker, gateway, sqs-poller, ...
    record: dict[str, Any]  # the JSON record as logged

    def as_json(self) -> dict[str, Any]:
        return {"process": self.process, **self.record}


def job_log_line(process: str, line: str, job_id: str) -> LogLine | None:
    """``line`` as a LogLine if it is a JSON record of ``job_id`` with a timestamp, else None."""
    if job_id not in line:  # cheap: most lines are other jobs' or not JSON at all
        return None
    try:
        record = json.loads(line)
        moment = parse_time(record["timestamp"]) if record.get("jobId") == job_id else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return LogLine(moment, process, record) if moment else None


@dataclass
class JobLogReader:
    """A job's lines from every ``*.log`` in ``log_dir``; each read returns only new ones."""

    log_dir: Path
    job_id: str
    offsets: dict[Path, int] = field(default_factory=dict)

    def read_new(self) -> list[LogLine]:
        found = [line for path in sorted(self.log_dir.glob("*.log")) for line in self._read(path)]
        return sorted(found, key=lambda line: line.time)  # stable: a file's order among equals

    def _read(self, path: Path) -> list[LogLine]:
        offset = self.offsets.get(path, 0)
        if path.stat().st_size < offset:  # truncated: it starts over
            offset = 0
        with path.open("rb") as log:
            log.seek(offset)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
        self.offsets[path] = offset + len(complete)
        lines = complete.decode(errors="replace").splitlines()
        return [found for raw in lines if (found := job_log_line(path.stem, raw, self.job_id))]


def format_log_line(line: LogLine, now: datetime) -> Text:
    """``time process level message [step, attempt N]``."""
    record = line.record
    level = str(record.get("level", ""))
    text = Text(f"{clock(line.time, now, millis=True)}  {line.process:<10} ")
    text.append(f"{level:<8}", style=LEVEL_STYLES.get(level, ""))
    text.append(str(record.get("message", "")))
    where = [str(record["step"])] if "step" in record else []
    where += [f"attempt {record['attempt']}"] if "attempt" in record else []
    if where:
        text.append(f"  [{', '.join(where)}]", style="dim")
    return text


@app.command()
def logs(
    job_id: JobId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing new lines until Ctrl-C")
    ] = False,
    state_dir: Annotated[
        Path,
        typer.Option(envvar="DOCFLOW_STATE_DIR", help="the local stack's state directory"),
    ] = Path(".docflow"),
    as_json: AsJson = False,
) -> None:
    """A job's log lines from every process of the local stack, merged by their timestamps."""
    log_dir = state_dir / "logs"
    if not log_dir.is_dir():
        msg = f"no {log_dir} directory: is the local stack running from here? (make up)"
        raise typer.BadParameter(msg, param_hint="--state-dir")
    reader = JobLogReader(log_dir, job_id)
    first = reader.read_new()
    if not first and not follow:
        typer.echo(f"no log lines for {job_id} in {log_dir}", err=True)
    show_log_lines(first, as_json)
    while follow:
        time.sleep(POLL_SECONDS)
        show_log_lines(reader.read_new(), as_json)


def show_log_lines(lines: list[LogLine], as_json: bool) -> None:
    if as_json:
        for line in lines:
            typer.echo(json.dumps(line.as_json()))
        return
    console, moment = stdout(), utc_now()
    for line in lines:
        console.print(format_log_line(line, moment), soft_wrap=True)


def main(argv: list[str]) -> None:
    app(argv, prog_name="docflow-stack logs")
