"""The settings catalogue: every environment variable docflow reads, and which service reads it.

Each service reads its own model (``TriggerSettings``, ``StatusSettings``, ``WorkerSettings``,
``NotifierSettings``), once per process, with ``<Model>.current()``, and calls it at start-up
(a Lambda: at init), so a missing or bad variable stops the process with the variable's name
instead of surfacing as 503s or, worse, as a working process with a development default.
Values that differ per deployment (URLs, secrets, buckets) have no default here: ``make up``,
compose and template.yaml supply them. Nothing is read from a ``.env`` file by deployed code;
the local stack reads ``.env`` into the environment it gives its processes.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from .models import MAX_DEADLINE_SECONDS
from .workflow import LATEST_WORKFLOW_VERSION

_loaded: dict[type[Any], Any] = {}


class SettingsError(ValueError):
    """A setting is missing or bad: the process must not start. The message names each
    variable and what is wrong with it (never its value)."""

    @classmethod
    def of(cls, model: type[BaseModel], err: ValidationError) -> SettingsError:
        problems = []
        for problem in err.errors(include_url=False, include_input=False):
            variable = ".".join(str(part) for part in problem["loc"]) or "?"
            what = "is required" if problem["type"] == "missing" else f": {problem['msg']}"
            problems.append(f"{variable} {what}".replace(" :", ":"))
        return cls(f"{model.__name__}: " + "; ".join(problems))


class ServiceSettings(BaseModel):
    """Settings are the environment, validated: each field names its variable (its alias).

    A plain pydantic model over ``os.environ``, not pydantic-settings, which imports argparse,
    dotenv and a CLI source parser on every Lambda cold start (~12 ms) for nothing used here.
    """

    # defer_build: a process validates one of these models; building the others' validators
    # at import would cost every Lambda cold start for nothing.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)

    @classmethod
    def from_environment(cls) -> Self:
        return cls.model_validate(dict(os.environ))

    @classmethod
    def current(cls) -> Self:
        """This process's settings, read from the environment once; ``SettingsError`` naming
        every missing or bad variable."""
        if cls not in _loaded:
            try:
                _loaded[cls] = cls.from_environment()
            except ValidationError as err:
                raise SettingsError.of(cls, err) from None
        settings: Self = _loaded[cls]
        return settings

    @classmethod
    def use(cls, settings: Self) -> None:
        """Make ``settings`` this process's (a replay, which reads settings but connects to
        nothing)."""
        _loaded[cls] = settings


def forget_settings() -> None:
    """Read the environment again at the next ``current()`` (tests that change it)."""
    _loaded.clear()


def _none_if_empty(value: object) -> object:
    # compose and template.yaml pass an unset optional variable as "": that means unset.
    return None if value == "" else value


class ResonateSettings(ServiceSettings):
    """What every process that talks to Resonate reads."""

    resonate_url: str = Field(validation_alias="RESONATE_URL")
    worker_group: str = Field("workers", validation_alias="DOCFLOW_WORKER_GROUP")
    # How long a front door waits for Resonate before answering 503: 1.5 s, so that the whole
    # answer, gateway and handler included, comes within 2 s.
    resonate_timeout_seconds: float = Field(
        1.5, gt=0, le=30, validation_alias="DOCFLOW_RESONATE_TIMEOUT"
    )


class OutboundSettings(ServiceSettings):
    """What every process that fetches or posts to URLs it is given reads."""

    # Comma-separated hosts or CIDRs the URL guard lets through (e.g. "127.0.0.1").
    url_allowlist: list[str] = Field(default_factory=list, validation_alias="DOCFLOW_URL_ALLOWLIST")

    @field_validator("url_allowlist", mode="before")
    @classmethod
    def _split_allowlist(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value


class FrontDoorSettings(ResonateSettings):
    """What both Lambda front doors (trigger and status) read."""

    api_token: SecretStr | None = Field(None, validation_alias="DOCFLOW_API_TOKEN")
    # With a JWT authorizer in front: the claim that names the requester a caller acts as, the
    # claim listing its groups, and the group that may act for any requester (docs/deploy.md).
    requester_claim: str = Field("sub", min_length=1, validation_alias="DOCFLOW_REQUESTER_CLAIM")
    groups_claim: str = Field("cognito:groups", min_length=1,
                              validation_alias="DOCFLOW_GROUPS_CLAIM")  # fmt: skip
    admin_group: str = Field("admin", min_length=1, validation_alias="DOCFLOW_ADMIN_GROUP")
    # The group whose members decide on approvals, and whether one may decide on one's own job.
    reviewer_group: str = Field("reviewer", min_length=1, validation_alias="DOCFLOW_REVIEWER_GROUP")
    separate_duties: bool = Field(True, validation_alias="DOCFLOW_SEPARATE_DUTIES")

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: object) -> object:
        # DOCFLOW_API_TOKEN="" means "no auth", not "require the token ''".
        return _none_if_empty(value)


class TriggerSettings(FrontDoorSettings):
    # The deadline of a job that sets no deadlineSeconds (default 30 days).
    job_timeout_seconds: int = Field(
        30 * 24 * 3600, ge=1, le=MAX_DEADLINE_SECONDS, validation_alias="DOCFLOW_JOB_TIMEOUT"
    )
    # The S3 inbox whose object-created notifications start jobs; unset: the queue handler
    # refuses S3 notifications (the HTTP function needs none).
    inbox_bucket: str | None = Field(None, validation_alias="DOCFLOW_INBOX_BUCKET")
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    # The workflow version new jobs start at (jobs in flight keep theirs).
    workflow_version: int = Field(LATEST_WORKFLOW_VERSION, ge=1,
                                  validation_alias="DOCFLOW_WORKFLOW_VERSION")  # fmt: skip
    # Fair use, per requester, on POST /process-document (0: no limit). Jobs in flight are
    # counted in Resonate; the start rate (a burst of DOCFLOW_START_BURST, then
    # DOCFLOW_STARTS_PER_MINUTE) in the Redis at REDIS_URL, and not limited without one.
    max_jobs_in_flight: int = Field(100, ge=0, validation_alias="DOCFLOW_MAX_JOBS_IN_FLIGHT")
    starts_per_minute: int = Field(120, ge=0, validation_alias="DOCFLOW_STARTS_PER_MINUTE")
    start_burst: int = Field(30, ge=1, validation_alias="DOCFLOW_START_BURST")
    # The notification stream (decisions' audit events) and the start rate's counters.
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    # The worker function's URL, when workers are Lambda functions that Resonate pushes tasks
    # to (docs/deploy.md, *Worker modes*); unset: the long-running workers' groups.
    worker_url: str | None = Field(None, validation_alias="DOCFLOW_WORKER_URL")

    @field_validator("inbox_bucket", "aws_endpoint_url", "redis_url", "worker_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _none_if_empty(value)

    @field_validator("workflow_version", mode="before")
    @classmethod
    def _empty_is_newest(cls, value: object) -> object:
        # The template passes "" for "not pinned": the newest.
        return LATEST_WORKFLOW_VERSION if value == "" else value


class StatusSettings(FrontDoorSettings):
    # The workers' progress record (attempts, workers, liveness); unset: the status omits them.
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    # A job that needs a worker and has shown no sign of one for this long is reported as
    # waiting for a worker (none running, or its worker died).
    stuck_after_seconds: float = Field(30.0, gt=0, validation_alias="DOCFLOW_STUCK_AFTER")
    # The workers' blob store, where the pictures of the pages are (GET /jobs/{jobId}/pages/{n});
    # unset: no pictures are shown.
    bucket: str | None = Field(None, validation_alias="DOCFLOW_BUCKET")
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")

    @field_validator("redis_url", "bucket", "aws_endpoint_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _none_if_empty(value)


class WorkerSettings(ResonateSettings, OutboundSettings):
    redis_url: str = Field(validation_alias="REDIS_URL")
    bucket: str = Field(validation_alias="DOCFLOW_BUCKET")
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    llm_base_url: str | None = Field(None, validation_alias="DOCFLOW_LLM_BASE_URL")
    llm_model: str | None = Field(None, validation_alias="DOCFLOW_LLM_MODEL")
    llm_api_key: SecretStr | None = Field(None, validation_alias="DOCFLOW_LLM_API_KEY")
    llm_timeout_seconds: float = Field(60.0, gt=0, validation_alias="DOCFLOW_LLM_TIMEOUT")
    # Lease a worker holds on a task between heartbeats; a crashed worker's step restarts
    # elsewhere after at most this long (the SDK's 1 min default makes recovery slow).
    task_ttl_seconds: float = Field(
        10.0, gt=0, validation_alias=AliasChoices("DOCFLOW_TASK_TTL", "task_ttl_seconds")
    )
    # The status reports a job as waiting for a worker after this long without a sign of one:
    # workers show theirs three times as often.
    stuck_after_seconds: float = Field(30.0, gt=0, validation_alias="DOCFLOW_STUCK_AFTER")
    max_document_bytes: int = Field(50 * 1024 * 1024, gt=0, validation_alias="DOCFLOW_MAX_BYTES")
    max_pages: int = Field(500, gt=0, validation_alias="DOCFLOW_MAX_PAGES")
    download_timeout_seconds: float = Field(30.0, gt=0, validation_alias="DOCFLOW_DOWNLOAD_TIMEOUT")
    # How long a job waits for a reviewer before it ends timed_out (default 7 days).
    approval_timeout_seconds: float = Field(
        7 * 24 * 3600, gt=0, validation_alias="DOCFLOW_APPROVAL_TIMEOUT"
    )
    # Invoices whose total is above this amount need approval even when the request did not
    # ask for it (unset: only requireApproval decides).
    approval_invoice_over: Decimal | None = Field(
        None, ge=0, validation_alias="DOCFLOW_APPROVAL_INVOICE_OVER"
    )
    # A field the heuristic analyzer is less sure of than this comes back with no value, and
    # its candidates (precision first: a wrong total is worse than none).
    field_min_confidence: float = Field(
        0.6, ge=0, le=1, validation_alias="DOCFLOW_FIELD_MIN_CONFIDENCE"
    )
    # With "requireApproval": "auto", a job any of whose required fields is less sure than
    # this waits for a person.
    review_below_confidence: float = Field(
        0.75, ge=0, le=1, validation_alias="DOCFLOW_REVIEW_BELOW_CONFIDENCE"
    )
    # The worker as a Lambda function (docflow_worker.serverless): its timeout, which the lease
    # on a pushed task outlasts (a function cannot heartbeat), and the token the Resonate
    # server's pushes carry (unset: any push is taken).
    function_timeout_seconds: float = Field(
        900.0, gt=0, le=900, validation_alias="DOCFLOW_FUNCTION_TIMEOUT"
    )
    push_token: SecretStr | None = Field(None, validation_alias="DOCFLOW_PUSH_TOKEN")

    @property
    def heartbeat_seconds(self) -> float:
        """How often a worker shows it is alive on a job's running step (progress record)."""
        return self.stuck_after_seconds / 3

    @field_validator("aws_endpoint_url", "llm_base_url", "llm_model", "push_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return _none_if_empty(value)


class NotifierSettings(OutboundSettings):
    redis_url: str = Field(validation_alias="REDIS_URL")
    # The Standard Webhooks secret(s), "whsec_<base64>", comma-separated newest first during a
    # rotation. Required: the notifier checks it before it starts (its ``signing`` module says
    # what is wrong and how to make one), so it has no default.
    webhook_secret: SecretStr | None = Field(None, validation_alias="DOCFLOW_WEBHOOK_SECRET")
    webhook_max_attempts: int = Field(
        8, ge=1, le=50, validation_alias="DOCFLOW_WEBHOOK_MAX_ATTEMPTS"
    )
    webhook_backoff_seconds: float = Field(
        1.0, gt=0, validation_alias="DOCFLOW_WEBHOOK_BACKOFF"
    )  # first retry delay; doubles per attempt (with jitter), capped at a minute
    webhook_timeout_seconds: float = Field(10.0, gt=0, validation_alias="DOCFLOW_WEBHOOK_TIMEOUT")
