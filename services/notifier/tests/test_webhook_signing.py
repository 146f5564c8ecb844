"""Webhook signatures: Standard Webhooks, checked with the ``standardwebhooks`` library itself."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from docflow_notifier.consumer import webhook_payload
from docflow_notifier.signing import SecretMissing, SigningSecrets
from docflow_testing.receiver import new_secret, verifies
from pydantic import SecretStr

pytestmark = pytest.mark.unit

BODY = b'{"type":"job.done","timestamp":"2026-11-30T00:00:00.000+00:00","data":{"jobId":"a"}}'


def signed(secrets: str, event_id: str = "1764460800000-0", body: bytes = BODY,
           timestamp: int | None = None) -> dict[str, str]:  # fmt: skip
    """The headers the notifier sends with ``body``, signed with ``secrets``."""
    stamp = int(time.time()) if timestamp is None else timestamp
    signing = SigningSecrets.parse(SecretStr(secrets))
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signing.signature(event_id, stamp, body),
    }


def test_a_delivery_verifies_with_the_standard_webhooks_library() -> None:
    secret = new_secret()

    assert verifies(secret, BODY, signed(secret))


def test_a_tampered_body_does_not_verify() -> None:
    secret = new_secret()
    headers = signed(secret)

    assert not verifies(secret, BODY.replace(b'"a"', b'"b"'), headers)


def test_another_event_id_does_not_verify() -> None:
    secret = new_secret()
    headers = signed(secret) | {"webhook-id": "1764460800000-1"}

    assert not verifies(secret, BODY, headers)


def test_an_old_timestamp_does_not_verify() -> None:
    secret = new_secret()

    assert not verifies(secret, BODY, signed(secret, timestamp=int(time.time()) - 3600))


def test_another_secret_does_not_verify() -> None:
    assert not verifies(new_secret(), BODY, signed(new_secret()))


def test_during_a_rotation_receivers_of_the_old_and_of_the_new_secret_both_verify() -> None:
    new, old = new_secret(), new_secret()
    headers = signed(f"{new}, {old}")

    assert headers["webhook-signature"].count("v1,") == 2
    assert verifies(new, BODY, headers)
    assert verifies(old, BODY, headers)
    assert not verifies(new_secret(), BODY, headers)


def test_the_deprecated_header_is_the_old_hmac_of_timestamp_dot_body_with_the_newest_secret() -> (
    None
):
    new, old = new_secret(), new_secret()
    expected = hmac.new(new.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()

    legacy = SigningSecrets.parse(SecretStr(f"{new},{old}")).legacy_signature(1700000000, BODY)

    assert legacy == f"sha256={expected}"


@pytest.mark.parametrize(
    ("configured", "problem"),
    [
        (None, "DOCFLOW_WEBHOOK_SECRET is not set"),
        ("", "DOCFLOW_WEBHOOK_SECRET is not set"),
        (" , ", "DOCFLOW_WEBHOOK_SECRET is not set"),
        ("docflow-dev-secret", "is not a Standard Webhooks secret"),
        ("whsec_not base64!", "its key is not base64"),
        ("whsec_c2hvcnQ=", "its key has 5 bytes"),
    ],
)
def test_a_missing_or_malformed_secret_is_refused_naming_the_variable_not_the_value(
    configured: str | None, problem: str
) -> None:
    with pytest.raises(SecretMissing) as refused:
        SigningSecrets.parse(SecretStr(configured) if configured is not None else None)

    assert problem in str(refused.value)
    assert "DOCFLOW_WEBHOOK_SECRET" in str(refused.value)
    if configured and configured.strip(" ,"):
        assert configured not in str(refused.value)


def test_the_second_secret_of_a_rotation_is_named_by_position_when_malformed() -> None:
    with pytest.raises(SecretMissing, match=r"secret 2 of 2"):
        SigningSecrets.parse(SecretStr(f"{new_secret()},whsec_c2hvcnQ="))


def test_the_payload_is_type_timestamp_and_data_with_the_jobs_status() -> None:
    event = {"type": "job.failed", "jobId": "j-1", "requesterId": "alice", "reason": "not_found",
             "callbackUrl": "https://example.com/hook", "correlationId": "c-1"}  # fmt: skip

    payload = webhook_payload("1764460800123-0", event)

    happened = datetime(2025, 11, 30, 0, 0, 0, 123000, UTC)
    assert payload == {
        "type": "job.failed",
        "timestamp": happened.isoformat(timespec="milliseconds"),
        "data": {"status": "failed", "jobId": "j-1", "requesterId": "alice",
                 "reason": "not_found", "correlationId": "c-1"},
    }  # fmt: skip


def test_a_decisions_payload_carries_its_audit_entry_and_no_status() -> None:
    audit = {"action": "approved", "by": "rita", "verified": True,
             "at": "2025-11-30T00:00:00Z", "correlationId": "c-2"}  # fmt: skip
    event = {"type": "audit.approved", "jobId": "j-1", "requesterId": "alice", "audit": audit,
             "callbackUrl": "https://example.com/hook", "correlationId": "c-1"}  # fmt: skip

    payload = webhook_payload("1764460800123-0", event)

    assert payload["type"] == "audit.approved"
    assert payload["data"] == {"jobId": "j-1", "requesterId": "alice", "correlationId": "c-1",
                               "audit": audit}  # fmt: skip
