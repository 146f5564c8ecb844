"""Starting a job for an object created in the S3 inbox.

The object's key names its requester (``<requesterId>/<anything>``), its metadata fills the job
(``x-amz-meta-callback-url``, ``-require-approval``, ``-type``) and the object itself is the
document. An object that cannot become a job (no requester in its key, metadata that fails the
job's rules, gone before it was read) is not a poison message: its job is recorded as failed,
with the reason, under the same derived id, so ``GET /status`` and ``GET /jobs`` tell the
uploader what was wrong. A notification from another bucket is refused (the message goes back
to the queue, then to its dead-letter queue): the inbox is the only bucket that starts jobs.
"""

from __future__ import annotations

import time
from datetime import timedelta

from docflow_shared.errors import InvalidDocument, InvalidJob
from docflow_shared.ids import workflow_id
from docflow_shared.inbox import (
    CALLBACK_URL_METADATA,
    REQUIRE_APPROVAL_METADATA,
    TYPE_METADATA,
    InboxObject,
)
from docflow_shared.models import Accepted, JobRequest
from docflow_shared.settings import TriggerSettings
from docflow_shared.workflow import DEADLINE_GRACE
from pydantic import ValidationError

from ..dal import workflows
from ..dal.inbox import object_metadata
from .start_job import JobStarted, start_job
from .store import JobStore

REFUSED = "invalid_upload"
_FIELD_METADATA = {
    "callbackUrl": CALLBACK_URL_METADATA,
    "requireApproval": REQUIRE_APPROVAL_METADATA,
    "type": TYPE_METADATA,
}


def start_inbox_job(
    inbox_object: InboxObject, correlation_id: str, store: JobStore = workflows
) -> JobStarted:
    """Start the object's job (once per object version), or record it as failed with why."""
    inbox = TriggerSettings.current().inbox_bucket
    if inbox is None:
        msg = f"an S3 notification from bucket {inbox_object.bucket!r}, and no inbox is set "
        msg += "(DOCFLOW_INBOX_BUCKET)"
        raise InvalidJob(msg)
    if inbox_object.bucket != inbox:
        msg = f"an S3 notification from bucket {inbox_object.bucket!r}; the inbox is {inbox!r}"
        raise InvalidJob(msg)
    try:
        job = inbox_job(inbox_object, object_metadata(inbox_object))
    except InvalidDocument as refused:
        return record_failed_job(inbox_object, refused, correlation_id, store)
    return start_job(job, correlation_id, store)


def inbox_job(inbox_object: InboxObject, metadata: dict[str, str]) -> JobRequest:
    """The job the object asks for; ``InvalidDocument`` (reason ``invalid_upload``) saying
    which part of the upload breaks which rule."""
    requester = inbox_object.requester_id
    if requester is None:
        msg = f"the inbox key {inbox_object.key!r} must be <requesterId>/<file name>"
        raise InvalidDocument(REFUSED, msg)
    fields: dict[str, object] = {
        "jobId": inbox_object.job_id,
        "documentUrl": inbox_object.document_url,
        "requesterId": requester,
    }
    if CALLBACK_URL_METADATA in metadata:
        fields["callbackUrl"] = metadata[CALLBACK_URL_METADATA]
    if TYPE_METADATA in metadata:
        fields["type"] = metadata[TYPE_METADATA].strip().lower()
    if REQUIRE_APPROVAL_METADATA in metadata:
        fields["requireApproval"] = _flag(metadata[REQUIRE_APPROVAL_METADATA])
    try:
        return JobRequest.model_validate(fields)
    except ValidationError as err:
        raise InvalidDocument(REFUSED, _explain(err)) from err


def _flag(text: str) -> bool | str:
    """ "true"/"false" in any case; anything else stays text, and the job's rules refuse it."""
    return {"true": True, "false": False}.get(text.strip().lower(), text)


def _explain(err: ValidationError) -> str:
    problems = []
    for problem in err.errors(include_url=False, include_input=False):
        field = str(problem["loc"][0]) if problem["loc"] else ""
        where = (
            f"x-amz-meta-{_FIELD_METADATA[field]}"
            if field in _FIELD_METADATA
            else f"the inbox key ({field})"
        )
        problems.append(f"{where}: {problem['msg']}")
    return "; ".join(problems)


def record_failed_job(
    inbox_object: InboxObject, refused: InvalidDocument, correlation_id: str, store: JobStore
) -> JobStarted:
    """The object's job, recorded as failed with ``refused``'s reason (once: a re-delivered
    notification finds it recorded)."""
    job = {
        "jobId": inbox_object.job_id,
        "documentUrl": inbox_object.document_url,
        "requesterId": inbox_object.requester_id or "",
    }
    trace = {"correlationId": correlation_id, "acceptedAt": int(time.time() * 1000)}
    lifetime = timedelta(seconds=TriggerSettings.current().job_timeout_seconds) + DEADLINE_GRACE
    workflow = workflow_id(job["jobId"])
    first = store.record_failed_workflow(workflow, job, trace, lifetime, refused).trace
    first = first or {}
    return JobStarted(
        accepted=Accepted(job_id=job["jobId"], status_url=f"/status/{job['jobId']}"),
        correlation_id=first.get("correlationId") or correlation_id,
        deduplicated=first != trace,
    )
