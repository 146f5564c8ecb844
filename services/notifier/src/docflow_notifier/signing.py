"""Webhook signatures after the Standard Webhooks specification (https://www.standardwebhooks.com).

Each delivery carries ``webhook-id`` (the event id: the same on every retry),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``:
``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``, one per secret, space-separated.
The secrets are ``DOCFLOW_WEBHOOK_SECRET``: ``whsec_<base64 key>``, or during a rotation a
comma-separated list, newest first, every one signing, so receivers configured with the old or
the new secret both verify. Any Standard Webhooks library verifies it (``standardwebhooks``,
``svix``); none of it is docflow-specific.

Deprecated, for one release: ``X-Docflow-Signature: sha256=<hex HMAC(newest secret as text,
"<timestamp>.<body>")>`` beside the standard headers, for receivers of the old scheme.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from docflow_shared.settings import SettingsError
from pydantic import SecretStr

SECRET_VARIABLE = "DOCFLOW_WEBHOOK_SECRET"  # noqa: S105 - a name
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix
# The specification's bounds on a key's size.
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64
MAKE_ONE = (
    "python3 -c 'import base64, secrets; "
    'print("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())\''
)


class SecretMissing(SettingsError):
    """``DOCFLOW_WEBHOOK_SECRET`` is unset or malformed: the notifier must not start."""


@dataclass(frozen=True)
class SigningSecrets:
    """The keys every delivery is signed with, newest first; never shown in logs or errors."""

    keys: tuple[bytes, ...]
    newest_text: SecretStr  # the newest secret as configured: the deprecated header's key

    @classmethod
    def parse(cls, configured: SecretStr | None) -> SigningSecrets:
        """The secrets in ``DOCFLOW_WEBHOOK_SECRET``, or ``SecretMissing`` saying what is wrong
        (never with the value)."""
        texts = [
            s.strip() for s in (configured.get_secret_value() if configured else "").split(",")
        ]
        texts = [s for s in texts if s]
        if not texts:
            msg = (
                f"{SECRET_VARIABLE} is not set: the notifier signs every webhook with it. "
                f"Make one with: {MAKE_ONE}"
            )
            raise SecretMissing(msg)
        return cls(tuple(_key(text, n, len(texts)) for n, text in enumerate(texts, 1)),
                   SecretStr(texts[0]))  # fmt: skip

    def signature(self, event_id: str, timestamp: int, body: bytes) -> str:
        """The ``webhook-signature`` header: one ``v1,<base64>`` per secret."""
        signed = f"{event_id}.{timestamp}.".encode() + body
        return " ".join(
            "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            for key in self.keys
        )

    def legacy_signature(self, timestamp: int, body: bytes) -> str:
        """The deprecated ``X-Docflow-Signature`` header."""
        key = self.newest_text.get_secret_value().encode()
        digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256)
        return f"sha256={digest.hexdigest()}"


def _key(text: str, position: int, count: int) -> bytes:
    which = f"{SECRET_VARIABLE} (secret {position} of {count})" if count > 1 else SECRET_VARIABLE
    problem = f"{which} is not a Standard Webhooks secret"
    hint = f"expected whsec_ followed by the base64 of {MIN_KEY_BYTES}-{MAX_KEY_BYTES} random bytes"
    if not text.startswith(SECRET_PREFIX):
        raise SecretMissing(f"{problem}: {hint}. Make one with: {MAKE_ONE}")
    try:
        key = base64.b64decode(text.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as err:
        raise SecretMissing(f"{problem}: its key is not base64; {hint}") from err
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise SecretMissing(f"{problem}: its key has {len(key)} bytes; {hint}")
    return key
