"""Webhook signatures: ``sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``.

Receivers recompute it over the exact bytes they got, compare in constant time, and reject
timestamps too far from their clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, body), header)
