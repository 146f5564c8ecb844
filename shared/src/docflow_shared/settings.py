"""The one settings class: every environment variable docflow reads, read once per process."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .models import MAX_DEADLINE_SECONDS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    resonate_url: str = Field("http://127.0.0.1:8001", validation_alias="RESONATE_URL")
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    bucket: str = Field("docflow-artifacts", validation_alias="DOCFLOW_BUCKET")
    queue_url: str | None = Field(None, validation_alias="DOCFLOW_QUEUE_URL")
    # Objects created here (s3://<inbox>/<requesterId>/<file>) start jobs via the jobs queue.
    inbox_bucket: str = Field("docflow-inbox", validation_alias="DOCFLOW_INBOX_BUCKET")
    # Comma-separated hosts or CIDRs the download guard lets through (e.g. "127.0.0.1").
    url_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="DOCFLOW_URL_ALLOWLIST"
    )
    llm_base_url: str | None = Field(None, validation_alias="DOCFLOW_LLM_BASE_URL")
    llm_model: str | None = Field(None, validation_alias="DOCFLOW_LLM_MODEL")
    llm_api_key: SecretStr | None = Field(None, validation_alias="DOCFLOW_LLM_API_KEY")
    llm_timeout_seconds: float = Field(60.0, gt=0, validation_alias="DOCFLOW_LLM_TIMEOUT")
    api_token: SecretStr | None = Field(None, validation_alias="DOCFLOW_API_TOKEN")
    # The notifier's Standard Webhooks secret(s): "whsec_<base64>", comma-separated newest first
    # during a rotation. No default: a notifier without one refuses to start.
    webhook_secret: SecretStr | None = Field(None, validation_alias="DOCFLOW_WEBHOOK_SECRET")
    # Lease a worker holds on a task between heartbeats; a crashed worker's step restarts
    # elsewhere after at most this long (the SDK's 1 min default makes recovery slow).
    task_ttl_seconds: float = Field(
        10.0, gt=0, validation_alias=AliasChoices("DOCFLOW_TASK_TTL", "task_ttl_seconds")
    )
    # How long a front door waits for Resonate before answering 503: 1.5 s, so that the whole
    # answer, gateway and handler included, comes within 2 s.
    resonate_timeout_seconds: float = Field(
        1.5, gt=0, le=30, validation_alias="DOCFLOW_RESONATE_TIMEOUT"
    )
    worker_group: str = Field("workers", validation_alias="DOCFLOW_WORKER_GROUP")
    # A job that needs a worker and has shown no sign of one for this long is reported as
    # waiting for a worker (none running, or its worker died).
    stuck_after_seconds: float = Field(30.0, gt=0, validation_alias="DOCFLOW_STUCK_AFTER")

    @property
    def heartbeat_seconds(self) -> float:
        """How often a worker shows it is alive on a job's running step (progress record)."""
        return self.stuck_after_seconds / 3

    max_document_bytes: int = Field(50 * 1024 * 1024, gt=0, validation_alias="DOCFLOW_MAX_BYTES")
    max_pages: int = Field(500, gt=0, validation_alias="DOCFLOW_MAX_PAGES")
    download_timeout_seconds: float = Field(30.0, gt=0, validation_alias="DOCFLOW_DOWNLOAD_TIMEOUT")
    webhook_max_attempts: int = Field(
        8, ge=1, le=50, validation_alias="DOCFLOW_WEBHOOK_MAX_ATTEMPTS"
    )
    webhook_backoff_seconds: float = Field(
        1.0, gt=0, validation_alias="DOCFLOW_WEBHOOK_BACKOFF"
    )  # first retry delay; doubles per attempt (with jitter), capped at a minute
    webhook_timeout_seconds: float = Field(10.0, gt=0, validation_alias="DOCFLOW_WEBHOOK_TIMEOUT")
    # How long a job waits for a reviewer before it ends timed_out (default 7 days).
    approval_timeout_seconds: float = Field(
        7 * 24 * 3600, gt=0, validation_alias="DOCFLOW_APPROVAL_TIMEOUT"
    )
    # Invoices whose total is above this amount need approval even when the request did not
    # ask for it (unset: only requireApproval decides).
    approval_invoice_over: Decimal | None = Field(
        None, ge=0, validation_alias="DOCFLOW_APPROVAL_INVOICE_OVER"
    )
    # The deadline of a job that sets no deadlineSeconds (default 30 days).
    job_timeout_seconds: int = Field(
        30 * 24 * 3600, ge=1, le=MAX_DEADLINE_SECONDS, validation_alias="DOCFLOW_JOB_TIMEOUT"
    )
    # Makes every step pause this long first: for the demo (watch the steps move, kill the
    # worker mid-step). 0 in normal operation.
    demo_step_delay_seconds: float = Field(0.0, ge=0, validation_alias="DOCFLOW_DEMO_STEP_DELAY")

    @field_validator("url_allowlist", mode="before")
    @classmethod
    def _split_allowlist(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: object) -> object:
        # compose passes DOCFLOW_API_TOKEN="" when the user set none: that means "no auth",
        # not "require the token ''".
        return None if value == "" else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
