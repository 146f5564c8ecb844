"""The README's webhook receiver, run as printed against a delivery signed as the notifier signs."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from docflow_notifier.signing import SigningSecrets
from docflow_testing.processes import ROOT
from docflow_testing.receiver import new_secret
from pydantic import SecretStr
from standardwebhooks.webhooks import WebhookVerificationError

pytestmark = pytest.mark.unit

BODY = (
    b'{"type":"job.done","timestamp":"2026-11-30T00:00:00.000+00:00",'
    b'"data":{"jobId":"demo-1","status":"done"}}'
)


def readme_receiver(secret: str) -> Any:
    """The README's receiver, with ``secret`` where it says to put yours."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"A receiver, with `pip install standardwebhooks`.*?```python\n(.*?)```",
                      readme, re.DOTALL)  # fmt: skip
    assert block, "the README has no receiver"
    source = block.group(1)
    assert '"whsec_..."' in source
    namespace: dict[str, Any] = {}
    exec(source.replace('"whsec_..."', repr(secret)), namespace)  # noqa: S102 - our README
    return namespace["receive"]


def delivery(secret: str, body: bytes = BODY) -> dict[str, str]:
    stamp = int(time.time())
    signature = SigningSecrets.parse(SecretStr(secret)).signature("1764460800000-0", stamp, body)
    return {"webhook-id": "1764460800000-0", "webhook-timestamp": str(stamp),
            "webhook-signature": signature, "Content-Type": "application/json"}  # fmt: skip


def test_the_readme_receiver_accepts_a_delivery(capsys: pytest.CaptureFixture[str]) -> None:
    secret = new_secret()

    readme_receiver(secret)(BODY, delivery(secret))

    assert capsys.readouterr().out.strip() == "job.done demo-1 done"


def test_the_readme_receiver_refuses_a_tampered_one() -> None:
    secret = new_secret()

    with pytest.raises(WebhookVerificationError):
        readme_receiver(secret)(BODY.replace(b"demo-1", b"demo-2"), delivery(secret))
