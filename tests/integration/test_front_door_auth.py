"""Optional bearer auth on every route, checked in the Lambda handlers themselves."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from docflow_shared.lambda_context import LambdaContext
from docflow_shared.settings import forget_settings
from docflow_status.handlers.http import lambda_handler as status_handler
from docflow_testing.events import api_event
from docflow_trigger.handlers.http import lambda_handler as trigger_handler

pytestmark = pytest.mark.integration

TOKEN = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def settings(resonate_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RESONATE_URL", resonate_url)
    monkeypatch.setenv("DOCFLOW_API_TOKEN", TOKEN)
    forget_settings()
    yield
    forget_settings()


def event(method: str, path: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
    return api_event(
        method, path, body, {} if token is None else {"authorization": f"Bearer {token}"}
    )


def job() -> dict[str, Any]:
    return {"jobId": f"auth-{uuid.uuid4().hex[:8]}", "documentUrl": "s3://docflow-artifacts/a.pdf",
            "requesterId": "alice"}  # fmt: skip


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
def test_a_request_without_the_right_token_is_refused_before_anything_else(
    token: str | None,
) -> None:
    for handler, request in [
        (trigger_handler, event("POST", "/process-document", job(), token)),
        (trigger_handler, event("POST", "/process-document", "not even a job", token)),
        (status_handler, event("GET", "/status/anything", None, token)),
    ]:
        answer = handler(request, LambdaContext("test"))

        assert answer["statusCode"] == 401
        assert answer["headers"]["WWW-Authenticate"] == "Bearer"
        assert json.loads(answer["body"])["error"] == "unauthorized"


def test_the_right_token_is_let_through() -> None:
    body = job()

    accepted = trigger_handler(event("POST", "/process-document", body, TOKEN), LambdaContext("t"))
    status = status_handler(
        event("GET", f"/status/{body['jobId']}", None, TOKEN), LambdaContext("t")
    )

    assert accepted["statusCode"] == 202
    assert status["statusCode"] == 200
    assert json.loads(status["body"])["status"] == "processing"
