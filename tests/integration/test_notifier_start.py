"""A notifier deployed without a webhook secret refuses to start: there is no built-in one."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.processes import BIN, free_port

pytestmark = pytest.mark.integration


def start_notifier(secret: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DOCFLOW_WEBHOOK_SECRET"}
    if secret is not None:
        env["DOCFLOW_WEBHOOK_SECRET"] = secret
    return subprocess.run(
        [str(BIN / "docflow-notifier"), "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60, check=False, cwd="/",
    )  # fmt: skip


@pytest.mark.parametrize("secret", [None, "docflow-dev-secret"])
def test_a_notifier_without_a_standard_webhooks_secret_exits_naming_the_variable(
    secret: str | None,
) -> None:
    ended = start_notifier(secret)

    assert ended.returncode != 0
    assert "DOCFLOW_WEBHOOK_SECRET" in ended.stderr
    assert "whsec_" in ended.stderr, "the message says how to make one"
    if secret:
        assert secret not in ended.stderr + ended.stdout
