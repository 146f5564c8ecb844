"""Domain errors. Each service maps them to HTTP in exactly one place."""

from __future__ import annotations

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


class JobNotFound(DocflowError):
    code = "not_found"


class JobConflict(DocflowError):
    code = "conflict"


class BackendUnavailable(DocflowError):
    """Resonate (or another backend) did not answer in time; the caller should retry."""

    code = "backend_unavailable"


class InvalidDocument(DocflowError):
    """A document that can never be processed: the job fails at once with this reason."""

    code = "invalid_document"
