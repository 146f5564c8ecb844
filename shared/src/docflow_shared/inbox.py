"""The S3 inbox: ``s3://<inbox>/<requesterId>/<anything>`` starts a job (S3 → SQS → trigger).

S3 sends an event notification for every object created in the inbox bucket to the jobs queue;
the trigger's SQS handler reads these beside job messages. The models here are the parts of
those notifications docflow reads (S3 sends more fields; they are ignored), and the rules that
turn an object into a job: its id, its document URL and the metadata that fills it.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal
from urllib.parse import quote, unquote_plus

from pydantic import BaseModel, ConfigDict, Discriminator, Tag

from .models import JobRequest

#: Object metadata (``x-amz-meta-<name>`` on upload) that fills the job.
CALLBACK_URL_METADATA = "callback-url"
REQUIRE_APPROVAL_METADATA = "require-approval"
TYPE_METADATA = "type"


class S3Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class S3Bucket(S3Part):
    name: str


class S3Object(S3Part):
    key: str  # URL-encoded, as S3 sends it ("+" for a space)
    eTag: str | None = None
    versionId: str | None = None


class S3Entity(S3Part):
    bucket: S3Bucket
    object: S3Object


class S3EventRecord(S3Part):
    eventSource: Literal["aws:s3"]
    eventName: str  # e.g. ObjectCreated:Put
    s3: S3Entity


class S3EventNotification(S3Part):
    """What S3 sends to the queue for a created object."""

    Records: list[S3EventRecord]


class S3TestEvent(S3Part):
    """What S3 sends once when a notification is configured: nothing to do."""

    Service: Literal["Amazon S3"]
    Event: Literal["s3:TestEvent"]
    Bucket: str


def _message_kind(body: Any) -> str:
    if isinstance(body, dict) and "Records" in body:
        return "s3"
    if isinstance(body, dict) and body.get("Event") == "s3:TestEvent":
        return "s3-test"
    return "job"


#: The body of a message on the jobs queue: a job (as ``POST /process-document`` takes it), an
#: S3 event notification, or S3's test event.
QueueMessageBody = Annotated[
    Annotated[JobRequest, Tag("job")]
    | Annotated[S3EventNotification, Tag("s3")]
    | Annotated[S3TestEvent, Tag("s3-test")],
    Discriminator(_message_kind),
]


class InboxObject(S3Part):
    """One created object of the inbox, as its notification names it."""

    bucket: str
    key: str  # decoded
    version_id: str | None = None  # in a versioned bucket
    etag: str | None = None

    @classmethod
    def of(cls, record: S3EventRecord) -> InboxObject:
        created = record.s3.object
        return cls(
            bucket=record.s3.bucket.name,
            key=unquote_plus(created.key),
            version_id=created.versionId or None,
            etag=(created.eTag or "").strip('"') or None,
        )

    @property
    def job_id(self) -> str:
        """Derived from bucket, key and version (or ETag): a re-delivered notification is the
        same job, an overwritten object a new one."""
        return inbox_job_id(self.bucket, self.key, self.version_id or self.etag)

    @property
    def requester_id(self) -> str | None:
        """The key's first segment (``<requesterId>/<anything>``), if it has one."""
        requester, sep, rest = self.key.partition("/")
        return requester if sep and requester.strip() and rest else None

    @property
    def document_url(self) -> str:
        """The object itself (pinned to its version in a versioned bucket)."""
        return s3_document_url(self.bucket, self.key, self.version_id)


def inbox_job_id(bucket: str, key: str, version: str | None) -> str:
    """``s3-<40 hex digits>``: what the trigger and ``docflow submit --via s3`` both compute."""
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version or ''}".encode()).hexdigest()
    return f"s3-{digest[:40]}"


def s3_document_url(bucket: str, key: str, version_id: str | None = None) -> str:
    """``s3://bucket/key`` with the key percent-encoded (and ``?versionId=`` when pinned)."""
    url = f"s3://{bucket}/{quote(key, safe='/')}"
    return f"{url}?versionId={quote(version_id, safe='')}" if version_id else url
