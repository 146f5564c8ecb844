"""A process deployed without a setting it needs stops at start (a Lambda: at init) naming the
variable, instead of starting with a development default or answering 503s: the Lambdas
without ``RESONATE_URL``, the worker without its store, the notifier without a webhook secret
(there is no built-in one)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from docflow_testing.processes import BIN, free_port

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


def without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}


@pytest.mark.parametrize(
    "handler",
    [
        "docflow_trigger.handlers.http",
        "docflow_trigger.handlers.sqs",
        "docflow_status.handlers.http",
    ],
)
def test_a_lambda_without_resonate_url_fails_its_init_naming_it(handler: str) -> None:
    # Lambda's init is the handler module's import, in a fresh interpreter.
    init = subprocess.run(
        [sys.executable, "-c", f"import {handler}"], env=without("RESONATE_URL"),
        capture_output=True, text=True, timeout=60, check=False, cwd="/",
    )  # fmt: skip

    assert init.returncode != 0
    assert "SettingsError" in init.stderr
    assert "RESONATE_URL is required" in init.stderr


@pytest.mark.parametrize("missing", ["RESONATE_URL", "REDIS_URL", "DOCFLOW_BUCKET"])
def test_a_worker_without_a_deployment_value_exits_naming_it(missing: str) -> None:
    ended = subprocess.run(
        [str(BIN / "docflow-worker")], env=without(missing), capture_output=True, text=True,
        timeout=60, check=False, cwd="/",
    )  # fmt: skip

    assert ended.returncode != 0
    assert f"{missing} is required" in ended.stderr
