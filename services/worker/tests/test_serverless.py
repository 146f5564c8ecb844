"""The worker function (``docflow_worker.serverless``) without a server: it refuses a push
without the push token, and an invocation runs one step at most (the whole flow, with the dev
server pushing: tests/e2e/test_serverless.py)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from types import ModuleType

import pytest
from docflow_shared.lambda_context import LambdaContext
from docflow_shared.settings import forget_settings
from docflow_worker.retrying import Invocation, NextInvocation
from resonate.error import PlatformError

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def function() -> Iterator[ModuleType]:
    """The function's module, initialised as Lambda would: settings from the environment (no
    server answers at these loopback addresses; nothing here reaches one)."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "RESONATE_URL": "http://127.0.0.1:9",
            "DOCFLOW_BUCKET": "b",
            "REDIS_URL": "redis://127.0.0.1:9",
            "DOCFLOW_PUSH_TOKEN": "s3cret",
        }.items():
            env.setenv(name, value)
        forget_settings()
        yield importlib.import_module("docflow_worker.serverless")
    forget_settings()


def push(authorization: str | None, body: str = "{}") -> dict[str, object]:
    headers = {"host": "127.0.0.1:3000"} | (
        {"authorization": authorization} if authorization else {}
    )
    http = {"method": "POST", "path": "/functions/worker"}
    return {"version": "2.0", "headers": headers, "body": body, "isBase64Encoded": False,
            "requestContext": {"http": http}}  # fmt: skip


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "s3cret", "Bearer s3cret "])
def test_a_push_without_the_token_is_refused(
    function: ModuleType, authorization: str | None
) -> None:
    answer = function.lambda_handler(push(authorization), LambdaContext("worker"))

    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["error"] == "unauthorized"


def test_a_push_with_the_token_reaches_the_shim(function: ModuleType) -> None:
    answer = function.lambda_handler(push("Bearer s3cret", body="not a message"),
                                     LambdaContext("worker"))  # fmt: skip

    assert answer["statusCode"] == 400, "past the token: the shim reads the message"
    assert "execute message" in json.loads(answer["body"])["error"]


def test_an_invocation_runs_one_step_then_hands_the_task_on() -> None:
    budget = Invocation()
    budget.begin(step_limit=1)
    budget.take_step()

    with pytest.raises(PlatformError) as handed_on:
        budget.take_step()

    assert isinstance(handed_on.value.cause, NextInvocation)
    budget.begin(step_limit=1)
    budget.take_step()  # the next invocation: its own step
    budget.begin(step_limit=None)
    for _ in range(10):
        budget.take_step()  # a long-running worker: no limit
