"""The S3 inbox's rules: which messages are which, the derived job id, and metadata → job."""

from __future__ import annotations

import json
from typing import Any

import pytest
from docflow_shared.errors import InvalidDocument
from docflow_shared.inbox import (
    InboxObject,
    QueueMessageBody,
    S3EventNotification,
    S3TestEvent,
    inbox_job_id,
)
from docflow_shared.models import DocumentType, JobRequest
from docflow_trigger.logic.inbox import inbox_job
from pydantic import TypeAdapter, ValidationError

pytestmark = pytest.mark.unit

QUEUE_BODY: TypeAdapter[Any] = TypeAdapter(QueueMessageBody)


ETAG = "9b2cf535f27731c974343645a3985328"


def notification(
    key: str, etag: str = ETAG, version: str | None = None, bucket: str = "docflow-inbox"
) -> dict[str, Any]:
    """An S3 ObjectCreated notification as S3 sends it to SQS (the fields docflow reads, and
    some it does not)."""
    created: dict[str, Any] = {"key": key, "size": 1024, "eTag": etag, "sequencer": "0A1B2C"}
    if version:
        created["versionId"] = version
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-30T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "docflow-inbox-jobs",
               "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}, "object": created},
    }]}  # fmt: skip


def inbox_object(key: str = "alice/invoice.pdf", **kwargs: Any) -> InboxObject:
    [record] = S3EventNotification.model_validate(notification(key, **kwargs)).Records
    return InboxObject.of(record)


def test_a_queue_message_is_a_job_an_s3_notification_or_the_s3_test_event() -> None:
    job = {"jobId": "j-1", "documentUrl": "https://example.com/a.pdf", "requesterId": "a"}
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-30T00:00:00Z",
                  "Bucket": "docflow-inbox", "RequestId": "R", "HostId": "H"}  # fmt: skip

    assert isinstance(QUEUE_BODY.validate_json(json.dumps(job)), JobRequest)
    assert isinstance(QUEUE_BODY.validate_json(json.dumps(notification("a/b.pdf"))),
                      S3EventNotification)  # fmt: skip
    assert isinstance(QUEUE_BODY.validate_json(json.dumps(test_event)), S3TestEvent)


@pytest.mark.parametrize(
    "body",
    [
        {"jobId": "j-1", "requesterId": "a"},  # a job without its document
        {"Records": [{"eventSource": "aws:sns"}]},  # not S3's
        {"Event": "s3:TestEvent"},  # a test event without S3's fields
        [1, 2],
    ],
)
def test_anything_else_on_the_queue_is_refused(body: Any) -> None:
    with pytest.raises(ValidationError):
        QUEUE_BODY.validate_json(json.dumps(body))


def test_the_key_is_decoded_as_s3_encodes_it_and_the_requester_is_its_first_segment() -> None:
    created = inbox_object("alice/March+invoice%281%29.pdf")

    assert created.key == "alice/March invoice(1).pdf"
    assert created.requester_id == "alice"
    assert created.document_url == "s3://docflow-inbox/alice/March%20invoice%281%29.pdf"


def test_the_job_id_is_the_same_for_a_redelivered_notification_and_new_for_an_overwrite() -> None:
    first = inbox_object(etag="9b2cf535f27731c974343645a3985328")
    again = inbox_object(etag="9b2cf535f27731c974343645a3985328")
    overwritten = inbox_object(etag="0f343b0931126a20f133d67c2b018a3b")

    assert first.job_id == again.job_id
    assert first.job_id != overwritten.job_id
    assert first.job_id == inbox_job_id("docflow-inbox", "alice/invoice.pdf",
                                        "9b2cf535f27731c974343645a3985328")  # fmt: skip


def test_a_versioned_object_is_pinned_to_its_version_and_identified_by_it() -> None:
    created = inbox_object(version="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")

    assert created.document_url.endswith(
        "/alice/invoice.pdf?versionId=3HL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY"
    )
    assert created.job_id == inbox_job_id("docflow-inbox", "alice/invoice.pdf",
                                          "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")  # fmt: skip


def test_metadata_fills_the_job() -> None:
    created = inbox_object()
    metadata = {"callback-url": "https://hooks.example.com/docflow", "require-approval": "TRUE",
                "type": "Invoice", "source": "scanner-3"}  # fmt: skip

    job = inbox_job(created, metadata)

    assert job.job_id == created.job_id
    assert str(job.document_url) == "s3://docflow-inbox/alice/invoice.pdf"
    assert job.requester_id == "alice"
    assert str(job.callback_url) == "https://hooks.example.com/docflow"
    assert job.require_approval is True
    assert job.type is DocumentType.INVOICE


def test_without_metadata_the_job_takes_the_defaults() -> None:
    job = inbox_job(inbox_object(), {})

    assert (job.type, job.require_approval, job.callback_url) == (DocumentType.AUTO, False, None)


@pytest.mark.parametrize(
    ("key", "metadata", "explained"),
    [
        ("alice/a.pdf", {"callback-url": "ftp://example.com/hook"}, "x-amz-meta-callback-url"),
        ("alice/a.pdf", {"require-approval": "yes please"}, "x-amz-meta-require-approval"),
        ("alice/a.pdf", {"type": "poem"}, "x-amz-meta-type"),
        ("invoice.pdf", {}, "must be <requesterId>/<file name>"),
        ("alice/", {}, "must be <requesterId>/<file name>"),
    ],
)
def test_an_upload_that_breaks_a_rule_is_refused_saying_which_part(
    key: str, metadata: dict[str, str], explained: str
) -> None:
    with pytest.raises(InvalidDocument) as refused:
        inbox_job(inbox_object(key), metadata)

    assert refused.value.reason == "invalid_upload"
    assert explained in refused.value.message
