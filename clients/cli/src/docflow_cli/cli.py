"""``docflow``: a job's life from a terminal, through the public HTTP API of any deployment
(``--gateway``; the local stack's gateway by default).

It talks to the API and, only where the user names them, to a bucket (a local file to upload)
or a queue: it never guesses a local one. Commands, options, environment variables, exit codes
and examples: docs/cli.md.
"""

from __future__ import annotations

import functools
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

import httpx
import typer
from docflow_shared.inbox import (
    CALLBACK_URL_METADATA,
    REQUIRE_APPROVAL_METADATA,
    TYPE_METADATA,
    inbox_job_id,
)
from docflow_shared.models import DocumentType, JobRequest, JobStatusName
from pydantic import ValidationError
from rich import box
from rich.console import Console, Group, RenderableType
from rich.json import JSON
from rich.live import Live
from rich.table import Column, Table
from rich.text import Text

from .aws import AwsUnavailable, send_message, upload

POLL_SECONDS = 0.5
STUCK_HINT = "is a worker running? (make up / make status)"


class ExitCode(IntEnum):
    """What ``docflow`` exits with; docs/cli.md lists the same."""

    OK = 0
    JOB_UNSUCCESSFUL = 1  # the job ended failed, rejected, canceled or timed_out
    REFUSED = 2  # a usage error (click's own code for it) or the API refused the request
    UNREACHABLE = 3  # nothing answers at the API's address, or at the local blob store's
    INTERRUPTED = 130  # Ctrl-C, as a shell reports it


STILL_RUNNING = frozenset({JobStatusName.PROCESSING, JobStatusName.AWAITING_APPROVAL})
UNSUCCESSFUL_ENDINGS = frozenset(
    {JobStatusName.FAILED, JobStatusName.REJECTED, JobStatusName.CANCELED, JobStatusName.TIMED_OUT}
)


def exit_code_for(status: str) -> ExitCode:
    """A job still running, or done, is OK; any other ending is not."""
    return ExitCode.JOB_UNSUCCESSFUL if status in UNSUCCESSFUL_ENDINGS else ExitCode.OK


def has_ended(status: str) -> bool:
    return status not in STILL_RUNNING


# --- the API ------------------------------------------------------------------------------------


class ApiRefused(Exception):
    """A 4xx/5xx answer, with the API's ``{"error", "message", "details"}`` body."""

    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(refusal_line(status_code, body))
        self.status_code = status_code


def refusal_line(status_code: int, body: Any) -> str:
    """An error answer as one line: the API's message, its code, and each invalid field."""
    if not isinstance(body, dict) or "message" not in body:
        text = " ".join(str(body).split())  # an HTML error page from a proxy, say: one line
        return f"the API answered {status_code}: {text[:200]}"
    line = f"{body['message']} ({status_code} {body.get('error', 'error')})"
    details = body.get("details")
    problems = [
        f"{problem['field']}: {problem.get('problem', '')}"
        for problem in (details if isinstance(details, list) else [])
        if isinstance(problem, dict) and "field" in problem
    ]
    return f"{line}: {'; '.join(problems)}" if problems else line


@dataclass(frozen=True)
class Api:
    base_url: str

    @classmethod
    def at(cls, url: str | None) -> Api:
        """``--gateway``/``DOCFLOW_GATEWAY`` when given, else the local stack's gateway."""
        local = f"http://127.0.0.1:{os.environ.get('DOCFLOW_GATEWAY_PORT', '3000')}"
        return cls((url or local).rstrip("/"))

    def call(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        answer = httpx.request(
            method,
            self.base_url + path,
            json=body,
            params=params,
            headers=api_headers(),
            timeout=30,
        )
        try:
            payload = answer.json()
        except ValueError:
            payload = answer.text
        if answer.is_error:
            raise ApiRefused(answer.status_code, payload)
        return payload

    def job_status(self, job_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/status/{quote(job_id, safe='')}"))

    def job_action(self, job_id: str, action: str, body: Any = None) -> dict[str, Any]:
        return dict(self.call("POST", f"/jobs/{quote(job_id, safe='')}/{action}", body))


def api_headers() -> dict[str, str]:
    """JSON, and the bearer token: ``DOCFLOW_API_TOKEN`` when set, else the one ``docflow
    login`` kept."""
    headers = {"Content-Type": "application/json"}
    kept = token_file()
    token = os.environ.get("DOCFLOW_API_TOKEN") or (kept.read_text().strip() if kept.exists()
                                                     else None)  # fmt: skip
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def signed_in() -> bool:
    """Whether requests carry the token ``docflow login`` kept (not DOCFLOW_API_TOKEN's)."""
    return not os.environ.get("DOCFLOW_API_TOKEN") and token_file().exists()


def local_user() -> str:
    return os.environ.get("USER") or "local"


def token_file() -> Path:
    """Where ``docflow login`` keeps its token: beside the local stack's state."""
    return Path(os.environ.get("DOCFLOW_STATE_DIR", ".docflow")) / "token"


# --- formatting: plain functions of a status (dict as on the wire) and the time now --------------

STATUS_STYLES = {
    JobStatusName.PROCESSING: "cyan",
    JobStatusName.AWAITING_APPROVAL: "yellow",
    JobStatusName.DONE: "green",
} | dict.fromkeys(UNSUCCESSFUL_ENDINGS, "red")
STEP_STYLES = {"pending": "dim", "running": "cyan", "done": "green", "failed": "red"}


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time (the API's, or a log's ``2026-11-25 12:59:54,344+0000``), aware."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.astimezone()  # a naive time is local


def clock(moment: datetime, now: datetime, *, millis: bool = False) -> str:
    """``moment`` in local time: the time of day, with the date when it is not today."""
    local = moment.astimezone()
    shown = f"{local:%H:%M:%S}" + (f".{local.microsecond // 1000:03d}" if millis else "")
    return shown if local.date() == now.astimezone().date() else f"{local:%Y-%m-%d} {shown}"


def duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)  # another machine's clock may be a little ahead
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def step_duration(step: dict[str, Any], now: datetime) -> str:
    """Start to checkpoint; a running step's so far; ``-`` when the times are unknown."""
    started, ended = parse_time(step.get("startedAt")), parse_time(step.get("endedAt"))
    if started is None or (ended is None and step["state"] != "running"):
        return "-"
    return duration(((ended or now) - started).total_seconds())


def waiting_for_worker(status: dict[str, Any], now: datetime) -> str | None:
    """The sentence for a job no live worker has (``waitingForWorkerSince`` set), else None."""
    since = parse_time(status.get("waitingForWorkerSince"))
    if since is None:
        return None
    waited = duration((now - since).total_seconds())
    why = status.get("waitingReason") or STUCK_HINT
    return f"waiting for a worker since {clock(since, now)} ({waited}) — {why}"


def status_header(status: dict[str, Any], now: datetime) -> Text:
    """``JOB  STATUS  step STEP``, and below it when it was accepted and its correlation id."""
    style = STATUS_STYLES.get(status["status"], "")
    header = Text.assemble((status["jobId"], "bold"), "  ", (status["status"], style))
    if status.get("step"):
        header.append(f"  step {status['step']}")
    created = parse_time(status.get("createdAt"))
    about = [f"accepted {clock(created, now)}"] if created else []
    if status.get("correlationId"):
        about.append(f"correlation {status['correlationId']}")
    if status.get("workflowVersion"):
        about.append(f"workflow v{status['workflowVersion']}")
    if about:
        header.append("\n" + "  ".join(about), style="dim")
    return header


def steps_table(steps: list[dict[str, Any]], now: datetime) -> Table:
    table = Table(
        "step", "state", "duration", "attempts", "worker", box=box.SIMPLE_HEAD, show_edge=False
    )
    for step in steps:
        attempts = step.get("attempts")
        table.add_row(
            step["name"],
            Text(step["state"], style=STEP_STYLES.get(step["state"], "")),
            step_duration(step, now),
            "-" if attempts is None else str(attempts),
            step.get("worker") or "-",
        )
    return table


def status_view(status: dict[str, Any], now: datetime) -> Group:
    """Where the job stands: its header, a stuck job's warning, its steps."""
    parts: list[RenderableType] = [status_header(status, now)]
    if stuck := waiting_for_worker(status, now):
        parts.append(Text(stuck, style="bold yellow"))
    parts.append(steps_table(status["steps"], now))
    return Group(*parts)


def outcome_view(status: dict[str, Any]) -> Group:
    """What the job came to: its error, what a reviewer or an operator can do, its result."""
    parts: list[RenderableType] = []
    if error := status.get("error"):
        reason, message = error.get("reason", "error"), error.get("message", "")
        parts.append(Text(f"{status['status']}: {reason}: {message}", style="red"))
    if status.get("redrivable"):
        parts.append(Text(f"once the fix is deployed: docflow redrive {status['jobId']} "
                          f"(it runs again from {status.get('step')})"))  # fmt: skip
    if status["status"] == JobStatusName.AWAITING_APPROVAL:
        job_id = status["jobId"]
        parts.append(
            Text(
                f"awaiting approval: docflow approve {job_id} --reviewer NAME, "
                f"or docflow reject {job_id} --reviewer NAME --comment WHY"
            )
        )
    if status.get("result") is not None:
        parts.append(JSON.from_data(status["result"]))
    return Group(*parts)


def job_note(job: dict[str, Any], now: datetime) -> str:
    if error := job.get("error"):
        return f"{error.get('reason', 'error')}: {error.get('message', '')}"
    if stuck := waiting_for_worker(job, now):
        return stuck
    return "needs a reviewer" if job["status"] == JobStatusName.AWAITING_APPROVAL else ""


def jobs_table(jobs: list[dict[str, Any]], now: datetime) -> Table:
    table = Table(
        Column("job", overflow="fold"),
        "status",
        "step",
        "accepted",
        "note",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for job in jobs:
        created = parse_time(job.get("createdAt"))
        table.add_row(
            job["jobId"],
            Text(job["status"], style=STATUS_STYLES.get(job["status"], "")),
            job.get("step") or "-",
            clock(created, now) if created else "-",
            job_note(job, now),
        )
    return table


ACTION_SENTENCES = {
    "approved": "approved: it resumes with store and notify",
    "rejected": "rejected: it ends rejected, nothing is stored",
    "cancel_requested": "cancel requested: it ends canceled at its next step boundary",
    "redriven": "redriven: it runs again from its failed step",
}


def action_line(answer: dict[str, Any]) -> str:
    job_id = answer["jobId"]
    said = ACTION_SENTENCES.get(answer["action"], answer["action"])
    return f"{job_id}: {said} (docflow status {job_id} --watch)"


# --- commands -----------------------------------------------------------------------------------


def fail(message: str, code: ExitCode) -> NoReturn:
    typer.echo(f"docflow: {message}", err=True)
    raise typer.Exit(code)


HELP = """A job's life from a terminal, through the API (the local stack's gateway by default).

\b
  docflow submit FILE_OR_URL [--wait]      docflow status JOB [--watch]
  docflow jobs [--status S] [--limit N]    docflow cancel JOB
  docflow approve JOB --reviewer R         docflow reject JOB --reviewer R --comment C
  docflow redrive JOB                      docflow login --as USER [--role R]
  docflow versions                         docflow export-history JOB [-o FILE]
  docflow replay-check [PATH ...]

Every command takes --json. Exit codes: 0 done (or still running), 1 the job ended failed,
rejected, canceled or timed_out, 2 a usage error or the API refused, 3 nothing answers.
More in docs/cli.md.
"""

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, rich_markup_mode=None)


def command[**P](function: Callable[P, None]) -> Callable[P, None]:
    """``app.command()``, its failures one line on stderr and an exit code, never a traceback."""

    @functools.wraps(function)
    def reporting_failures(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            function(*args, **kwargs)
        except ApiRefused as refusal:
            fail(f"refused: {refusal}", ExitCode.REFUSED)
        except httpx.TransportError as err:
            hint = "is the stack running? start it with make up"
            fail(f"nothing answers ({err}); {hint}", ExitCode.UNREACHABLE)
        except AwsUnavailable as err:
            fail(str(err), ExitCode.UNREACHABLE if err.unreachable else ExitCode.REFUSED)
        except KeyboardInterrupt:
            raise typer.Exit(ExitCode.INTERRUPTED) from None

    app.command()(reporting_failures)
    return reporting_failures


JobId = Annotated[str, typer.Argument(metavar="JOB", help="the job's id")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of tables and lines")]
GatewayUrl = Annotated[
    str | None,
    typer.Option(
        "--gateway",
        envvar=["DOCFLOW_GATEWAY", "DOCFLOW_GATEWAY_URL"],
        metavar="URL",
        help="the API's base URL; by default the local stack's gateway "
        "(http://127.0.0.1:$DOCFLOW_GATEWAY_PORT, 3000 unless set)",
    ),
]


class Via(StrEnum):
    HTTP = "http"
    SQS = "sqs"
    S3 = "s3"


def stdout() -> Console:
    # Made per command, not at import, so it sizes itself to the terminal (or COLUMNS) of now.
    return Console(highlight=False)


def show_status(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(status)
    else:
        console = stdout()
        console.print(status_view(status, utc_now()))
        console.print(outcome_view(status), soft_wrap=True)  # a long value whole, never cut


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))


def utc_now() -> datetime:
    return datetime.now(UTC)


def watch_job(api: Api, job_id: str, as_json: bool, *, queued: bool = False) -> dict[str, Any]:
    """Poll until the job ends, its steps live on a terminal; then show its final status."""
    console = stdout()
    if as_json or not console.is_terminal:  # a pipe or a file gets the final status only
        final = poll_until_ended(api, job_id, queued, lambda _: None)
    else:
        with Live(console=console, auto_refresh=False, transient=True) as live:

            def show(status: dict[str, Any]) -> None:
                live.update(status_view(status, utc_now()), refresh=True)

            final = poll_until_ended(api, job_id, queued, show)
    show_status(final, as_json)
    return final


def poll_until_ended(
    api: Api, job_id: str, queued: bool, show: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    while True:
        try:
            status = api.job_status(job_id)
        except ApiRefused as refusal:
            # A queued job is unknown until the poller starts it; a 503 is Resonate briefly away.
            if refusal.status_code != 503 and not (queued and refusal.status_code == 404):
                raise
        else:
            show(status)
            if has_ended(status["status"]):
                return status
        time.sleep(POLL_SECONDS)


@command
def submit(
    document: Annotated[
        str,
        typer.Argument(
            metavar="FILE_OR_URL",
            help="an http(s):// or s3:// URL, or a local file (uploaded to --bucket first)",
        ),
    ],
    doc_type: Annotated[DocumentType, typer.Option("--type")] = DocumentType.AUTO,
    job_id: Annotated[
        str | None, typer.Option("--job-id", help="[default: job-<8 random hex digits>]")
    ] = None,
    requester: Annotated[
        str | None,
        typer.Option(help="who asks [default: `docflow login`'s user if signed in, else $USER]"),
    ] = None,
    via: Annotated[
        Via,
        typer.Option(
            help="http: POST /process-document; sqs: a message on --queue-url; s3: FILE "
            "uploaded to the S3 --inbox (the job id is derived from the object)"
        ),
    ] = Via.HTTP,
    bucket: Annotated[
        str | None,
        typer.Option(
            envvar="DOCFLOW_UPLOAD_BUCKET",
            help="where a local FILE is uploaded first (s3://BUCKET/uploads/...)",
        ),
    ] = None,
    inbox: Annotated[
        str | None,
        typer.Option(envvar="DOCFLOW_INBOX_BUCKET", help="the S3 inbox, for --via s3"),
    ] = None,
    queue_url: Annotated[
        str | None,
        typer.Option(envvar="DOCFLOW_QUEUE_URL", help="the job queue, for --via sqs"),
    ] = None,
    require_approval: Annotated[
        bool, typer.Option("--require-approval", help="wait for a reviewer after analyze")
    ] = False,
    auto_review: Annotated[
        bool,
        typer.Option("--auto-review", help="wait for a reviewer only if the analysis is unsure"),
    ] = False,
    callback_url: Annotated[
        str | None, typer.Option(help="POSTed a signed event when the job ends")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="then watch it as status --watch")] = False,
    gateway_url: GatewayUrl = None,
    as_json: AsJson = False,
) -> None:
    """Submit a document (a local file is uploaded first, to the bucket you name).

    With --wait, it then watches the job and exits as status --watch does."""
    api = Api.at(gateway_url)
    if require_approval and auto_review:
        raise typer.BadParameter("choose one of --require-approval and --auto-review",
                                 param_hint="--auto-review")  # fmt: skip
    approval: bool | str = "auto" if auto_review else require_approval
    if via is Via.S3:
        if job_id:
            raise typer.BadParameter("an inbox upload's job id is derived from the object",
                                     param_hint="--job-id")  # fmt: skip
        if not inbox:
            raise typer.BadParameter("name the S3 inbox to upload to", param_hint="--inbox")
        metadata = {TYPE_METADATA: doc_type.value,
                    REQUIRE_APPROVAL_METADATA: str(approval).lower(),
                    **({CALLBACK_URL_METADATA: callback_url} if callback_url else {})}  # fmt: skip
        accepted = upload_to_inbox(local_file(document), inbox, requester or local_user(), metadata)
        finish_submit(api, accepted, wait, as_json, queued=True)
        return
    job = job_request(
        jobId=job_id or f"job-{uuid.uuid4().hex[:8]}",
        documentUrl=document_url(document, bucket),
        # Signed in, the API knows who asks; a queue's sender must say.
        requesterId=requester or (None if signed_in() and via is Via.HTTP else local_user()),
        type=doc_type.value,
        requireApproval=approval,
        callbackUrl=callback_url,
    )
    if via is Via.SQS:
        if not queue_url:
            raise typer.BadParameter("name the job queue to send to", param_hint="--queue-url")
        send_message(queue_url, json.dumps(job))
        accepted = {"status": "queued", "jobId": job["jobId"], "queueUrl": queue_url}
    else:
        accepted = api.call("POST", "/process-document", job)
    finish_submit(api, accepted, wait, as_json, queued=via is Via.SQS)


def job_request(**fields: Any) -> dict[str, Any]:
    """The job as the API takes it, checked against the model the API checks it with."""
    try:
        job = JobRequest.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in err.errors(include_url=False, include_input=False)
        )
        raise typer.BadParameter(f"not a valid job: {problems}") from err
    return job.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def finish_submit(
    api: Api, accepted: dict[str, Any], wait: bool, as_json: bool, *, queued: bool
) -> None:
    if not as_json:
        typer.echo(accepted_line(accepted))
    elif not wait:  # with --wait, --json prints the final status only
        print_json(accepted)
    if wait:
        final = watch_job(api, accepted["jobId"], as_json, queued=queued)
        raise typer.Exit(exit_code_for(final["status"]))


def document_url(document: str, bucket: str | None) -> str:
    """A URL as it is; a local file is uploaded to ``bucket`` first: its s3:// URL."""
    if "://" in document:
        return document
    path = local_file(document)
    if not bucket:
        msg = (f"{document} is a local file: name the bucket to upload it to (--bucket), "
               "send it to the S3 inbox (--via s3 --inbox INBOX), or give a URL")  # fmt: skip
        raise typer.BadParameter(msg, param_hint="--bucket")
    key = f"uploads/{uuid.uuid4().hex[:8]}-{path.name}"
    upload(path, bucket, key)
    return f"s3://{bucket}/{key}"


def local_file(document: str) -> Path:
    path = Path(document)
    if not path.is_file():
        msg = f"no such file: {document} (give a local file, or an http(s):// or s3:// URL)"
        raise typer.BadParameter(msg, param_hint="FILE_OR_URL")
    return path


def upload_to_inbox(
    path: Path, inbox: str, requester: str, metadata: dict[str, str]
) -> dict[str, Any]:
    """Put ``path`` at ``<requester>/<random>-<name>`` in the inbox; the job it starts."""
    key = f"{requester}/{uuid.uuid4().hex[:8]}-{path.name}"
    version = upload(path, inbox, key, metadata)
    return {"status": "uploaded", "jobId": inbox_job_id(inbox, key, version),
            "objectUrl": f"s3://{inbox}/{key}"}  # fmt: skip


def accepted_line(accepted: dict[str, Any]) -> str:
    job_id = accepted["jobId"]
    places = {"queued": f"on {accepted.get('queueUrl')}",
              "uploaded": f"to {accepted.get('objectUrl')}"}  # fmt: skip
    where = places.get(accepted["status"], "by the API")
    return f"{job_id}: {accepted['status']} {where} (docflow status {job_id} --watch)"


@command
def status(
    job_id: JobId,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="live steps until the job ends, then its result")
    ] = False,
    gateway_url: GatewayUrl = None,
    as_json: AsJson = False,
) -> None:
    """A job's status, steps and result.

    Exits 1 if the job ended failed, rejected, canceled or timed_out, else 0."""
    api = Api.at(gateway_url)
    if watch:
        current = watch_job(api, job_id, as_json)
    else:
        current = api.job_status(job_id)
        show_status(current, as_json)
    raise typer.Exit(exit_code_for(current["status"]))


@command
def jobs(
    status: Annotated[
        JobStatusName | None, typer.Option("--status", help="only jobs in this status")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="at most this many")] = 20,
    gateway_url: GatewayUrl = None,
    as_json: AsJson = False,
) -> None:
    """Recent jobs, newest first."""
    params: dict[str, Any] = {"limit": limit} | ({"status": status.value} if status else {})
    listing = Api.at(gateway_url).call("GET", "/jobs", params=params)
    if as_json:
        print_json(listing)
    elif listing["jobs"]:
        stdout().print(jobs_table(listing["jobs"], utc_now()))
    else:
        typer.echo("no jobs")


Reviewer = Annotated[
    str | None,
    typer.Option(help="who decides [default: signed in with `docflow login`, the token's user]"),
]


@command
def approve(
    job_id: JobId,
    reviewer: Reviewer = None,
    comment: Annotated[str | None, typer.Option(help="a note kept with the decision")] = None,
    corrections: Annotated[
        list[str] | None,
        typer.Option("--set", help="a field's right value, NAME=VALUE (e.g. total=350.00)"),
    ] = None,
    gateway_url: GatewayUrl = None,
    as_json: AsJson = False,
) -> None:
    """Approve a job awaiting approval, correcting any field the analyzer got wrong.

    It resumes with store and notify; the corrected values are the result's."""
    fields = {}
    for correction in corrections or []:
        name, equals, value = correction.partition("=")
        if not equals or not name.strip():
            raise typer.BadParameter(f"{correction!r} is not NAME=VALUE", param_hint="--set")
        fields[name.strip()] = value.strip()
    decide(Api.at(gateway_url), job_id, True, reviewer, comment, as_json, fields)


@command
def reject(
    job_id: JobId,
    comment: Annotated[str, typer.Option(help="why (the requester is told)")],
    reviewer: Reviewer = None,
    gateway_url: GatewayUrl = None,
    as_json: AsJson = False,
) -> None:
    """Reject a job awaiting approval.

    It ends rejected; nothing is stored."""
    decide(Api.at(gateway_url), job_id, False, reviewer, comment, as_json)


def decide(
    api: Api,
    job_id: str,
    approved: bool,
    reviewer: str | None,
    comment: str | None,
    as_json: bool,
    fields: dict[str, str] | None = None,
) -> None:
    named = {"reviewer": reviewer} if reviewer else {}
    corrected = {"fields": fields} if fields else {}
    decision = {"approved": approved, "comment": comment, **named, **corrected}
    show_action(api.job_action(job_id, "approval", decision), as_json)


@command
def cancel(job_id: JobId, gateway_url: GatewayUrl = None, as_json: AsJson = False) -> None:
    """Cancel a job.

    It ends canceled at its next step boundary, or at once if it awaits approval."""
    show_action(Api.at(gateway_url).job_action(job_id, "cancel"), as_json)


@command
def login(
    user: Annotated[str, typer.Option("--as", help="who you are (the token's sub)")],
    role: Annotated[list[str] | None, typer.Option(help="a group of yours, e.g. reviewer")] = None,
    gateway_url: GatewayUrl = None,
) -> None:
    """Get a token from the local stack's dev issuer (DOCFLOW_AUTH=jwt make up) and keep it.

    Every later command sends it. For a deployment, put your identity provider's token in
    DOCFLOW_API_TOKEN instead."""
    api = Api.at(gateway_url)
    answer = api.call("POST", "/dev-issuer/token", {"sub": user, "groups": role or []})
    kept = token_file()
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.touch(mode=0o600)
    kept.write_text(answer["token"])
    until = datetime.fromtimestamp(answer["expiresAt"]).strftime("%H:%M")
    roles = f" ({', '.join(role)})" if role else ""
    typer.echo(f"logged in as {user}{roles} until {until}; the token is in {kept}")


@command
def versions(
    shipping: Annotated[
        str | None,
        typer.Option(
            metavar="N,N",
            help="the versions a worker about to ship has: refuse (exit 2) if one with jobs in "
            "flight is missing",
        ),
    ] = None,
    gateway_url: GatewayUrl = None,
    as_json: AsJson = False,
) -> None:
    """The workflow versions in use: jobs in flight on each, and the live workers that run it.

    Check it before retiring a version: a worker that drops one strands its jobs in flight
    (make deploy-worker runs it with --shipping)."""
    listing = Api.at(gateway_url).call("GET", "/versions")
    if shipping is not None:
        refuse_stranding(listing, shipping)
    if as_json:
        print_json(listing)
        return
    table = Table("version", "jobs in flight", "live workers", box=box.SIMPLE_HEAD,
                  show_edge=False)  # fmt: skip
    more = "" if listing["countedAll"] else "+"
    for entry in listing["versions"]:
        workers = entry["workers"]
        newest = " (newest)" if entry["version"] == listing["newest"] else ""
        table.add_row(f"v{entry['version']}{newest}", f"{entry['jobsInFlight']}{more}",
                      "unknown" if workers is None else ", ".join(workers) or "none")  # fmt: skip
    stdout().print(table)


def refuse_stranding(listing: dict[str, Any], shipping: str) -> None:
    """Fail unless a worker with the ``shipping`` versions runs every version with jobs in
    flight (other workers may run them too, but a rollout replaces them all)."""
    try:
        shipped = {int(part) for part in shipping.split(",") if part.strip()}
    except ValueError:
        raise typer.BadParameter("a list of version numbers, e.g. 1,2",
                                 param_hint="--shipping") from None  # fmt: skip
    in_flight = [v for v in listing["versions"] if v["jobsInFlight"]]
    stranded = [v for v in in_flight if v["version"] not in shipped]
    for version in stranded:
        said = (f"docflow: the worker drops workflow version {version['version']}, which has "
                f"{version['jobsInFlight']} job(s) in flight: keep it in the worker, or wait "
                "until they end (FORCE=1 make deploy-worker ships anyway)")  # fmt: skip
        typer.echo(said, err=True)
    if stranded:
        raise typer.Exit(ExitCode.REFUSED)


@command
def redrive(job_id: JobId, gateway_url: GatewayUrl = None, as_json: AsJson = False) -> None:
    """Run a failed job again from its failed step, once the fix is deployed.

    The steps done before it are not run again. Only a job that failed on a bug, or on an
    outage that did not pass, and whose deadline has not passed, can be redriven."""
    show_action(Api.at(gateway_url).job_action(job_id, "redrive"), as_json)


@command
def export_history(
    job_id: JobId,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write it here, not to stdout")
    ] = None,
    gateway_url: GatewayUrl = None,
) -> None:
    """A job's history as JSON: its root promise and every durable call under it.

    Replay it against the code about to ship with docflow replay-check FILE, or commit it
    under tests/replay/v<N>/ so every make test replays it (docs/deploy.md)."""
    history = Api.at(gateway_url).call("GET", f"/jobs/{quote(job_id, safe='')}/history")
    text = json.dumps(history, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"{job_id}: v{history['workflowVersion']} history, "
                   f"{len(history['promises']) - 1} calls, in {output}")  # fmt: skip


@command
def replay_check(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[PATH ...]",
            help="history files, or directories of them (*.json); by default tests/replay",
        ),
    ] = None,
) -> None:
    """Replay recorded job histories against the workflow code of their versions, as a worker
    would after a deploy: fails (exit 1) on any divergence, a step renamed, added, removed or
    reordered under jobs that ran it. A change inside a step's body replays clean.

    It runs this checkout's worker code (make replay-check; make deploy-worker runs it)."""
    try:
        # The worker's code: only this command needs it, and only where it is installed.
        from docflow_worker.replay import Divergence, load, replay
    except ImportError:
        fail("replay-check runs the worker's workflow code: run it where docflow-worker is "
             "installed (in the repository: make replay-check)", ExitCode.REFUSED)  # fmt: skip
    paths = paths or [Path("tests/replay")]
    try:
        histories = load(paths)
    except (OSError, ValueError) as err:
        fail(f"cannot read the histories: {err}", ExitCode.REFUSED)
    if not histories:
        fail(f"no job history (*.json) in {', '.join(map(str, paths))}", ExitCode.REFUSED)
    diverged = 0
    for path, history in histories:
        try:
            replayed = replay(history)
        except Divergence as divergence:
            diverged += 1
            typer.echo(f"DIVERGES {path} (v{history.workflow_version}): {divergence}")
            continue
        left = " (in flight: the rest is still to run)" if replayed.in_flight else ""
        typer.echo(f"ok {path} (v{replayed.version}): {len(replayed.calls)} calls replay{left}")
    if diverged:
        typer.echo(f"docflow: {diverged} of {len(histories)} histories diverge from this code",
                   err=True)  # fmt: skip
        raise typer.Exit(ExitCode.JOB_UNSUCCESSFUL)


def show_action(answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(answer)
    else:
        typer.echo(action_line(answer))


def main() -> None:
    app(prog_name="docflow")


if __name__ == "__main__":
    main()
