"""What the workflow's steps take and give: typed inside the worker, camelCase JSON outside.

Each step's result is its checkpoint: Resonate stores it as JSON (``Wire`` dumps by alias), and
a replay rebuilds the model from the step's annotation (``retrying.checkpoint``), so a step
sees the same type on its first run and after any crash.
"""

from __future__ import annotations

from typing import Any

from docflow_shared.models import Box, JobRequest, Trace, Wire
from pydantic import ConfigDict, Field


class Job(JobRequest):
    """A job as its steps see it: the request, the trigger's trace and the deadline.

    All three come from the root promise, so every replay sees the same values.
    """

    # A newer trigger may send a field this worker does not know yet: it is not needed here.
    model_config = ConfigDict(extra="ignore")

    correlation_id: str | None = None
    accepted_at: int | None = None  # epoch ms, the trigger's clock
    deadline_at: int  # epoch ms: the root promise's timeout less the server's grace
    run: int = 1  # the first run, or the one the n-th redrive started
    workflow_version: int = 1  # the version of the workflow that runs it

    @classmethod
    def running(
        cls, request: dict[str, Any], trace: dict[str, Any], deadline_at: int, version: int
    ) -> Job:
        """From the root promise's arguments (JSON: a bad one fails the job, it is not retried)."""
        stamped = Trace.model_validate(trace).model_dump() if trace else {}
        return cls.model_validate({**request, **stamped, "deadlineAt": deadline_at,
                                   "workflowVersion": version})  # fmt: skip

    @property
    def url(self) -> str:
        return str(self.document_url)


class Document(Wire):
    """Step 1's result: the document, in the blob store."""

    key: str
    sha256: str
    content_type: str
    bytes: int
    pages: int


class PageText(Wire):
    page: int
    method: str  # "text" (the PDF's text layer) or "ocr"
    text: str
    # Each line's box on the page's picture, one per line of ``text`` (None: a blank line, or
    # one the PDF places nowhere); empty when the page has no picture (a plain text document).
    boxes: list[Box | None] = Field(default_factory=list)


class PageBatch(Wire):
    """One batch of step 2: the text of pages ``first``..``last``, as one blob."""

    key: str
    first: int
    last: int


class Text(Wire):
    """Step 2's result: every page's text, as one blob (``text.json``)."""

    key: str
    pages: int
    chars: int
    ocr_pages: list[int]
    # The document's e-invoice XML (attached to its PDF, or the document itself), as a blob.
    e_invoice_key: str | None = None


class FieldCheck(Wire):
    """One cross-check of an extracted field: passed, or the problem found."""

    field: str
    passed: bool
    problem: str | None = None


class Verification(Wire):
    """The verify step's result (workflow version 2 on): the analysis's fields cross-checked."""

    checks: list[FieldCheck]
    needs_review: bool  # asked for, or an invoice over DOCFLOW_APPROVAL_INVOICE_OVER


class Decision(Wire):
    """What settles a job's approval promise: a reviewer, the approval timer, or a cancel."""

    approved: bool = False
    reviewer: str = "?"
    comment: str | None = None
    fields: dict[str, str] | None = None  # the reviewer's corrections
    timed_out: bool = False
    canceled: bool = False


class Approval(Wire):
    """The review step's result: who approved, and the fields they corrected."""

    approved_by: str
    comment: str
    corrected: dict[str, str] = Field(default_factory=dict)


class Notified(Wire):
    """Step 5's result: the completion event on the notification stream."""

    event_id: str
    notified_at: str
