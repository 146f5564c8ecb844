"""The LLM analyzer against a local OpenAI-compatible endpoint (a scripted stub)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from docflow_samples import INVOICE_LINES
from docflow_shared.settings import forget_settings
from docflow_testing.llm_stub import LLMStub, completion
from docflow_worker import llm_analyzer
from docflow_worker.llm_analyzer import LLMAnalyzer
from docflow_worker.steps.analyze import analyzer

pytestmark = pytest.mark.integration

INVOICE = "\n".join(INVOICE_LINES)
FIELD_NAMES = ["vendor", "merchant", "number", "date", "total", "currency", "parties", "term",
               "fees"]  # fmt: skip
TOTAL = {"value": "1230.50", "evidence": "Total: EUR 1,230.50", "page": 1}
CURRENCY = {"value": "EUR", "evidence": "Total: EUR 1,230.50", "page": 1}
SUMMARY = "An invoice from ACME Tools Ltd to Globex for hammers and gloves."


def model_answer(document_type: str = "invoice", **found: dict[str, Any]) -> str:
    """What a model following the strict schema answers: every field, null when not found."""
    fields = {name: found.get(name) for name in FIELD_NAMES}
    return json.dumps({"documentType": document_type, "fields": fields, "summary": SUMMARY})


ANSWER = model_answer(total=TOTAL, currency=CURRENCY)


@pytest.fixture
def stub() -> Iterator[LLMStub]:
    server = LLMStub()
    yield server
    server.close()


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The analyzer's backoff pauses, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(llm_analyzer.time, "sleep", recorded.append)
    return recorded


def make(stub: LLMStub) -> LLMAnalyzer:
    return LLMAnalyzer(stub.url, "stub-model", "sk-test", timeout_seconds=10)


def analyzed(analyzer: LLMAnalyzer, pages: list[str], hint: str) -> dict[str, Any]:
    """The analysis as the job's result shows it."""
    return analyzer.analyze(pages, hint).model_dump(mode="json", exclude_none=True)


def test_the_models_answer_is_validated_and_used(stub: LLMStub) -> None:
    stub.answer(200, completion(ANSWER))

    result = analyzed(make(stub), [INVOICE], "auto")

    assert result == {"documentType": "invoice", "fields": {"total": TOTAL, "currency": CURRENCY},
                      "summary": SUMMARY, "analyzer": "llm:stub-model",
                      "disagreements": []}  # fmt: skip
    headers, request = stub.requests[0]
    assert headers["Authorization"] == "Bearer sk-test"
    assert (request["model"], request["temperature"]) == ("stub-model", 0)
    schema = request["response_format"]["json_schema"]
    assert schema["strict"] is True
    assert set(schema["schema"]["properties"]) == {"documentType", "fields", "summary"}
    # Strict structured outputs: every field listed and required, no free-form object.
    fields_schema = schema["schema"]["$defs"]["Fields"]
    assert sorted(fields_schema["required"]) == sorted(FIELD_NAMES)
    assert fields_schema["additionalProperties"] is False
    assert "--- page 1 ---\n" + INVOICE_LINES[0] in request["messages"][1]["content"]


def test_429_is_retried_after_the_time_it_asks_for(stub: LLMStub, pauses: list[float]) -> None:
    stub.answer(429, {"error": "slow down"}, {"Retry-After": "7"})
    stub.answer(503, {"error": "busy"})
    stub.answer(200, completion(ANSWER))

    result = analyzed(make(stub), [INVOICE], "auto")

    assert result["analyzer"] == "llm:stub-model"
    assert pauses == [7.0, 2.0]  # Retry-After first, then the doubling backoff
    assert len(stub.requests) == 3


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ([(500, {"error": "down"})] * 4, "the endpoint answered 500 (4 attempts)"),
        ([(400, {"error": "bad request"})], "the endpoint answered 400"),
        ([(200, completion("not json"))], "not a valid analysis"),
        ([(200, completion(model_answer("poem")))], "documentType"),
        ([(200, completion(model_answer(total={**TOTAL, "page": 0})))], "numbered from 1"),
        ([(200, {"choices": []})], "not a valid analysis"),
    ],
)
def test_without_a_valid_answer_the_heuristic_result_is_used_and_said_so(
    stub: LLMStub, pauses: list[float], script: list[tuple[int, Any]], reason: str
) -> None:
    for status, body in script:
        stub.answer(status, body)

    result = analyzed(make(stub), [INVOICE], "auto")

    assert result["analyzer"] == "heuristic"
    assert reason in result["fallbackReason"]
    assert result["fields"]["total"]["value"] == "1230.50"  # the heuristic analyzer's work
    assert len(stub.requests) == len(script)


def test_an_unreachable_endpoint_falls_back(stub: LLMStub, pauses: list[float]) -> None:
    url = stub.url
    stub.close()

    result = analyzed(LLMAnalyzer(url, "stub-model", None, timeout_seconds=2), [INVOICE], "auto")

    assert result["analyzer"] == "heuristic"
    assert "ConnectError" in result["fallbackReason"]
    assert pauses == [1.0, 2.0, 4.0]


def test_a_long_document_is_analysed_in_chunks_and_merged(stub: LLMStub) -> None:
    pages = [INVOICE + "\n" + "filler line\n" * 700 for _ in range(3)]  # ~8,000 chars each
    vendor = {"value": "ACME Tools Ltd", "evidence": "ACME", "page": 2}
    for body in (ANSWER, model_answer(vendor=vendor), ANSWER):
        stub.answer(200, completion(body))

    result = analyzed(make(stub), pages, "invoice")

    assert len(stub.requests) == 3, "one request per chunk of pages"
    assert "--- page 2 ---" in stub.requests[1][1]["messages"][1]["content"]
    assert "sender says this is a invoice" in stub.requests[0][1]["messages"][1]["content"]
    assert set(result["fields"]) == {"total", "currency", "vendor"}
    assert result["fields"]["vendor"]["page"] == 2


def test_the_worker_uses_the_llm_analyzer_when_configured(
    stub: LLMStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCFLOW_LLM_BASE_URL", stub.url)
    monkeypatch.setenv("DOCFLOW_LLM_MODEL", "stub-model")
    forget_settings()
    try:
        assert isinstance(analyzer(), LLMAnalyzer)
        monkeypatch.setenv("DOCFLOW_FIELD_MIN_CONFIDENCE", "0.99")
        forget_settings()
        llm = analyzer()
        assert isinstance(llm, LLMAnalyzer)
        assert llm.fallback.min_confidence == 0.99, "its fallback is as sure as the setting asks"
        monkeypatch.delenv("DOCFLOW_LLM_MODEL")
        forget_settings()
        assert not isinstance(analyzer(), LLMAnalyzer)
    finally:
        forget_settings()
