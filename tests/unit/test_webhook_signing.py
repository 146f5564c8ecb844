"""Webhook signatures: what a receiver recomputes must match, and any change must not."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from docflow_notifier.signing import signature, verify

pytestmark = pytest.mark.unit


def test_the_signature_is_an_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()

    assert signature("s3cret", "1700000000", b'{"a":1}') == f"sha256={expected}"


@pytest.mark.parametrize(
    ("secret", "timestamp", "body"),
    [("other", "1700000000", b'{"a":1}'), ("s3cret", "1700000001", b'{"a":1}'),
     ("s3cret", "1700000000", b'{"a":2}')],
)  # fmt: skip
def test_a_different_secret_timestamp_or_body_does_not_verify(
    secret: str, timestamp: str, body: bytes
) -> None:
    header = signature("s3cret", "1700000000", b'{"a":1}')

    assert verify("s3cret", "1700000000", b'{"a":1}', header)
    assert not verify(secret, timestamp, body, header)
