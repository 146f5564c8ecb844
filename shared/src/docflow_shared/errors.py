"""Domain errors. Each service maps them to HTTP in exactly one place."""

from __future__ import annotations

import json
from typing import Any


class DocflowError(Exception):
    """Base of every error docflow reports to a caller; ``code`` is the machine-readable name."""

    code = "error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidJob(DocflowError):
    code = "invalid_request"


class UnreadableJson(InvalidJob):
    code = "invalid_json"


class JobNotFound(DocflowError):
    code = "not_found"


class JobConflict(DocflowError):
    code = "conflict"


class BackendUnavailable(DocflowError):
    """Resonate (or another backend) did not answer in time; the caller should retry."""

    code = "backend_unavailable"


class BackendRejected(DocflowError):
    """Resonate refused a request docflow made: a bug or a version mismatch, not worth a retry."""

    code = "backend_error"


class PayloadTooLarge(DocflowError):
    code = "payload_too_large"


class UnsupportedMediaType(DocflowError):
    code = "unsupported_media_type"


class Unauthorized(DocflowError):
    code = "unauthorized"


class Forbidden(DocflowError):
    """A verified caller asking for what is not theirs to do."""

    code = "forbidden"


class InvalidFields(DocflowError):
    """Fields a request needs that its model alone cannot check (422, like the validator's)."""

    code = "validation_error"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"the request has invalid fields: {field}",
                         [{"field": field, "problem": problem, "type": "missing"}])  # fmt: skip


class TooManyRequests(DocflowError):
    """A requester over its fair share (jobs in flight, or starts per minute): 429, and when
    to try again."""

    code = "too_many_requests"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message, {"retryAfterSeconds": retry_after_seconds})
        self.retry_after_seconds = retry_after_seconds


class ReasonedError(DocflowError):
    """An error that ends a workflow with a reason.

    Resonate keeps only ``str(error)`` of a rejection (and a pickle no other service should
    load), so ``str`` is ``models.JobFailure`` as JSON: the status reads it back as data.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[type[ReasonedError], tuple[str, str]]:
        return type(self), (self.reason, self.message)  # the SDK pickles a step's error

    def __str__(self) -> str:
        return json.dumps({"reason": self.reason, "message": self.message}, ensure_ascii=False)


class InvalidDocument(ReasonedError):
    """A document that can never be processed: the job fails at once, with ``reason``.

    ``reason`` is one of the documented failure codes (``not_found``, ``unsupported_type``,
    ``too_large``, ``url_refused``, ``corrupt_document``, ...).
    """

    code = "invalid_document"


class StepFailed(ReasonedError):
    """A step that could not finish, for a reason other than its document: a bug (reason
    ``internal_error``), an outage that did not pass, or a source that kept failing."""


class JobEnded(ReasonedError):
    """The workflow ends the job without a result, on purpose, after notifying its requester.

    Its reason is the job's status, one of ``workflow.ENDINGS``: rejected (by its reviewer),
    timed_out, canceled.
    """

    code = "job_ended"

    @property
    def status(self) -> str:
        return self.reason
