"""The HTTP contract (design.md), as pydantic models with the wire's camelCase names."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    UrlConstraints,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .ids import JOB_ID_PATTERN

MAX_DEADLINE_SECONDS = 365 * 24 * 3600


class Wire(BaseModel):
    # camelCase out by default: Resonate's SDK stores a model as ``model_dump(mode="json")``.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, frozen=True
    )


class DocumentType(StrEnum):
    INVOICE = "invoice"
    RECEIPT = "receipt"
    CONTRACT = "contract"
    OTHER = "other"
    AUTO = "auto"


class JobStatusName(StrEnum):
    PROCESSING = "processing"
    AWAITING_APPROVAL = "awaiting_approval"
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"


class StepName(StrEnum):
    DOWNLOAD = "download"
    EXTRACT = "extract"
    ANALYZE = "analyze"
    VERIFY = "verify"  # workflow version 2 on: the analysis's fields cross-checked
    REVIEW = "review"  # only for jobs that need approval: records the reviewer's decision
    STORE = "store"
    NOTIFY = "notify"


class StepStateName(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DocumentUrl(AnyUrl):
    _constraints = UrlConstraints(allowed_schemes=["http", "https", "s3"], max_length=2048)


class CallbackUrl(AnyUrl):
    _constraints = UrlConstraints(allowed_schemes=["http", "https"], max_length=2048)


class JobRequest(Wire):
    """``POST /process-document``. Unknown fields are refused, so typos are not ignored."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(pattern=JOB_ID_PATTERN, examples=["demo-1"])
    document_url: DocumentUrl = Field(examples=["https://example.com/doc.pdf"])
    # Who the job is for. With a verified caller (a JWT authorizer in front) it may be left out:
    # it is the caller; without one, it is required.
    requester_id: str | None = Field(None, min_length=1, max_length=128, examples=["alice"])
    type: DocumentType = DocumentType.AUTO
    callback_url: CallbackUrl | None = None
    # True: a person approves the job before it is stored; "auto": only when the analysis is
    # unsure (a required field missing or below DOCFLOW_REVIEW_BELOW_CONFIDENCE).
    require_approval: bool | Literal["auto"] = False
    # The job ends timed_out (requester notified) if it is not done this many seconds after
    # it was accepted; without it, DOCFLOW_JOB_TIMEOUT applies.
    deadline_seconds: int | None = Field(None, ge=1, le=MAX_DEADLINE_SECONDS)

    @field_validator("requester_id")
    @classmethod
    def _no_blank_requester(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            msg = "requesterId must not be blank"
            raise ValueError(msg)
        return value

    def as_workflow_input(self, requester_id: str) -> dict[str, Any]:
        """The job as the workflow receives it, for ``requester_id`` (the one it was found to
        be for): plain JSON, camelCase, defaults included."""
        return self.model_dump(mode="json", by_alias=True) | {"requesterId": requester_id}


class Trace(Wire):
    """Where a job came from, as the trigger stamps it: kept with the job in its root promise."""

    correlation_id: str
    accepted_at: int  # epoch ms, the trigger's clock


class Box(Wire):
    """Where a line is on its page's picture, as fractions of the picture's width and height
    (0, 0 the top left corner): any size of the picture shows it."""

    left: float = Field(ge=0, le=1)
    top: float = Field(ge=0, le=1)
    right: float = Field(ge=0, le=1)
    bottom: float = Field(ge=0, le=1)


class Candidate(Wire):
    """One value a field could have, with the line it was read from and how likely it is."""

    value: str | list[str]
    evidence: str
    page: int = Field(ge=1)
    confidence: float = Field(ge=0, le=1)
    box: Box | None = None  # the evidence line on the page's picture, when it is found there


class ExtractedField(Wire):
    """A field read from the document, with the line it was read from, so a person can check.

    ``value`` is null when the analyzer was not sure enough (``DOCFLOW_FIELD_MIN_CONFIDENCE``):
    then ``candidates`` holds what it could be, best first, and evidence and page are the best
    one's. A value is never a guess presented as fact."""

    value: str | list[str] | None  # a list for a contract's parties
    evidence: str
    page: int = Field(ge=1)
    # How sure the analyzer is, 0 to 1 (1.0: read from an e-invoice's XML); null: it does not say.
    confidence: float | None = Field(None, ge=0, le=1)
    candidates: list[Candidate] = []  # when unsure, or when other values came near
    source: Literal["reviewer"] | None = None  # a person's correction, not the analyzer's
    # The evidence line on the page's picture (``GET /jobs/{jobId}/pages/{page}``), when the
    # page has one and the line is found on it: where a reviewer looks.
    box: Box | None = None

    @model_serializer(mode="wrap")
    def _value_even_when_null(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Results are dumped without their nulls; a field's value stays, null: "not sure".
        # Candidates are shown only when there is a choice, a box only where there is one.
        data: dict[str, Any] = dump(self)
        data.setdefault("value", None)
        if not data.get("candidates", True):
            del data["candidates"]
        if "box" in data and data["box"] is None:
            del data["box"]
        return data


class Disagreement(Wire):
    """A field on which the document contradicts itself: an e-invoice's XML says one thing,
    its printed pages do not show it."""

    field: str
    value: str  # what the XML says
    message: str


class Analysis(Wire):
    """What an analyzer makes of a document's text (the heuristic one, or an LLM)."""

    document_type: Literal["invoice", "receipt", "contract", "other"]
    fields: dict[str, ExtractedField]  # only those found
    summary: str
    analyzer: str  # "heuristic", "e-invoice" (read from its XML), or "llm:<model>"
    fallback_reason: str | None = None  # why the LLM's answer was not used, if it was not
    disagreements: list[Disagreement] = []


class ApprovalDecision(Wire):
    """``POST /jobs/{jobId}/approval``: a reviewer's decision on a job awaiting approval."""

    model_config = ConfigDict(extra="forbid")

    approved: bool = Field(strict=True)  # true or false: never "yes", 1 or "no" read as a bool
    # With a verified caller it may be left out (it is the caller; another name is refused);
    # without one, it is required.
    reviewer: str | None = Field(None, min_length=1, max_length=128, pattern=r"\S",
                                 examples=["bob"])  # fmt: skip
    comment: str | None = Field(None, max_length=2000)
    # With an approval, the reviewer's values for fields the analyzer missed or got wrong: they
    # become the result's (``source: "reviewer"``).
    fields: dict[str, str] | None = Field(None, examples=[{"total": "1230.50"}])

    @model_validator(mode="after")
    def _corrections_make_sense(self) -> ApprovalDecision:
        if self.fields and not self.approved:
            raise ValueError("corrected fields come with an approval, not a rejection")
        for name, value in (self.fields or {}).items():
            if name not in CORRECTABLE_FIELDS:
                known = ", ".join(CORRECTABLE_FIELDS)
                raise ValueError(f"{name!r} is not a field a reviewer corrects (one of {known})")
            if problem := correction_problem(name, value):
                raise ValueError(f"{name}: {problem}")
        return self


CORRECTABLE_FIELDS = ("vendor", "merchant", "number", "date", "total", "currency")


def correction_problem(name: str, value: str) -> str | None:
    """What is wrong with a reviewer's value for a field, if anything: each field is written as
    the analyzer writes it."""
    if not value.strip() or len(value) > 200:
        return "a value of 1 to 200 characters"
    if name == "total":
        try:
            amount = Decimal(value)
        except InvalidOperation:
            return f"{value!r} is not an amount (write 1230.50)"
        return None if amount.is_finite() else f"{value!r} is not an amount"
    if name == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not a date (write 2024-03-05)"
    if name == "currency" and not re.fullmatch(r"[A-Z]{3}", value):
        return f"{value!r} is not an ISO 4217 currency code (write EUR)"
    return None


class AuditEvent(Wire):
    """A decision someone took on a job (approve, reject, cancel, redrive): who, when, and from
    which request. Kept with the decision itself, in the job's durable records."""

    action: Literal["approved", "rejected", "cancel_requested", "redriven"]
    # The verified caller; without one (shared-token mode), the reviewer a decision names, or
    # None for a cancel or redrive: nobody vouched for a name.
    by: str | None = None
    verified: bool  # ``by`` is the identity of a verified token
    at: datetime
    correlation_id: str | None = None  # of the request that took the decision
    comment: str | None = None  # a reviewer's


class JobActionAccepted(Wire):
    """The answer to an approval, a cancel or a redrive: what happens next, and where to
    watch it."""

    job_id: str
    action: Literal["approved", "rejected", "cancel_requested", "redriven"]
    status_url: str


class Accepted(Wire):
    status: Literal["accepted"] = "accepted"
    job_id: str
    status_url: str


class StepStatus(Wire):
    """One step of a job. The times come from its durable checkpoint; ``attempts`` and
    ``worker`` from the workers' progress record (absent when that record cannot be read)."""

    name: StepName
    state: StepStateName
    started_at: datetime | None = None  # its first attempt began
    ended_at: datetime | None = None  # its checkpoint was written
    attempts: int | None = None  # attempts begun, by any worker (retries, killed ones included)
    worker: str | None = None  # the worker of the latest attempt


class JobFailure(Wire):
    """Why a job ended without a result."""

    reason: str = Field(examples=["not_found"])  # a documented code (docs/openapi.yaml)
    message: str = Field(examples=["https://example.com/doc.pdf answered 404"])


class JobRun(Wire):
    """One run of a job: the first, or one a redrive started. A run that failed stopped at
    ``failed_step``; the next run began there, with the steps before it already done."""

    run: int = Field(ge=1)
    started_at: datetime | None = None  # accepted, or redriven
    failed_step: StepName | None = None
    failed_at: datetime | None = None
    error: JobFailure | None = None


class JobStatus(Wire):
    job_id: str
    status: JobStatusName
    step: StepName | None = None
    steps: list[StepStatus]
    result: dict[str, Any] | None = None
    error: JobFailure | None = None
    # A failed job that ``POST /jobs/{jobId}/redrive`` can run again from its failed step (until
    # its deadline); the runs so far, the first one first.
    redrivable: bool = False
    runs: list[JobRun] = Field(default_factory=list)
    audit: list[AuditEvent] = Field(default_factory=list)  # the decisions taken, oldest first
    created_at: datetime | None = None  # accepted
    correlation_id: str | None = None  # from the request that started it, in every log line
    workflow_version: int | None = None  # the version of the workflow the job runs
    # Set when the job needs a worker and no live worker has had it for a while (none running,
    # or its worker died): the moment it was last in a worker's hands, or accepted; and why,
    # when it is known (no live worker has the job's workflow version).
    waiting_for_worker_since: datetime | None = None
    waiting_reason: str | None = None


class JobList(Wire):
    """``GET /jobs``: the most recent jobs first."""

    jobs: list[JobStatus]


class WorkflowVersionInUse(Wire):
    """One workflow version: the jobs still in flight on it, and the live workers that run it."""

    version: int
    jobs_in_flight: int
    workers: list[str] | None = None  # None: the workers' liveness records cannot be read


class WorkflowVersions(Wire):
    """``GET /versions``: every version with jobs in flight, or live workers, and the newest."""

    versions: list[WorkflowVersionInUse]
    newest: int  # what new jobs start at, unless the trigger's DOCFLOW_WORKFLOW_VERSION differs
    counted_all: bool  # False: more jobs are in flight than were counted (the counts are lows)


class ErrorBody(BaseModel):
    """Every 4xx/5xx body: a machine-readable ``error``, a sentence, and optional details."""

    error: str
    message: str
    details: Any = None
