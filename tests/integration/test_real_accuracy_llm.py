"""``make bench``'s real-corpus benchmark with an LLM endpoint configured: the LLM analyzer is
measured beside the heuristics, on the same documents, and scored the same way. A real model
cannot run here; a local OpenAI-compatible stub answers as one would."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from docflow_testing.llm_stub import LLMStub, completion

from benchmarks import real_accuracy

pytestmark = pytest.mark.integration

TICKET = "mercadona-ticket/short_ticket.pdf"  # one page with a text layer: no OCR, one request
FIELDS = ["vendor", "merchant", "number", "date", "total", "currency", "parties", "term", "fees"]


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[LLMStub]:
    stub = LLMStub()
    monkeypatch.setenv("DOCFLOW_LLM_BASE_URL", stub.url)
    monkeypatch.setenv("DOCFLOW_LLM_MODEL", "stub-model")
    yield stub
    stub.close()


def test_a_configured_llm_is_measured_beside_the_heuristics(endpoint: LLMStub) -> None:
    [doc] = [doc for doc in real_accuracy.corpus() if doc.file == TICKET]
    total = {"value": "4.60", "evidence": "TOTAL (€) 4,60", "page": 1}
    fields = {name: total if name == "total" else None for name in FIELDS}
    answer = {"documentType": "receipt", "fields": fields, "summary": "A Mercadona ticket."}
    endpoint.answer(200, completion(json.dumps(answer)))

    outcome = real_accuracy.analyse(doc)

    llm = outcome["results"]["llm"]
    assert (llm["analyzer"], llm["type"], llm["fields"]) == ("llm:stub-model", "receipt",
                                                           {"total": "4.60"})  # fmt: skip
    assert outcome["results"]["heuristic"]["analyzer"] == "heuristic"
    [(_, request)] = endpoint.requests
    assert "FACTURA SIMPLIFICADA" in request["messages"][1]["content"]
    # Scored as the heuristics are: its one field right, the fields it left out missed.
    section = "\n".join(real_accuracy._scored("llm", [doc], [outcome]))
    assert "#### Analyzer: llm" in section
    assert "| field | total | 1.00 | 1.00 | 1 / 1 |" in section
    assert "| field | vendor | 1.00 | 0.00 | 0 / 1 |" in section
