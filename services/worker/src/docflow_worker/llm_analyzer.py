"""An analyzer backed by any OpenAI-compatible chat-completions endpoint (``DOCFLOW_LLM_*``).

The model must answer JSON that follows :class:`Answer`'s schema (asked for with
``response_format: json_schema``, then validated with the same model, so a wrong shape is an
error, not a result). 429 and 5xx answers are retried with backoff, honouring ``Retry-After``.
A long document is analysed in chunks of pages and the answers merged. When the endpoint cannot
give a valid answer, the heuristic analyzer's result is returned instead, marked as a fallback
with the reason, so a job never fails because a model is down.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import httpx
from docflow_shared.models import Analysis, ExtractedField
from docflow_shared.retry import Backoff, is_transient, retry_after_seconds
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .analyzer import EVIDENCE_CHARS, HeuristicAnalyzer
from .observability import logger

CHUNK_CHARS = 12_000  # per request; pages are never split
SUMMARY_CHARS = 1000
MAX_ATTEMPTS = 4
BACKOFF = Backoff(first_seconds=1.0, max_seconds=30.0)
SYSTEM_PROMPT = (
    "You extract data from business documents. Classify the document as invoice, receipt, "
    "contract or other, and extract the fields for its type: invoice: vendor, number, date, "
    "total, currency; receipt: merchant, number, date, total, currency; contract: parties, "
    "term, fees. "
    "Dates as YYYY-MM-DD, amounts as plain decimals (1230.50), currencies as ISO 4217 codes. "
    "For each field give the exact line of the document it comes from as evidence, and its page "
    "number (pages are marked '--- page N ---'). Leave out a field you cannot find. Summarise "
    "the document in at most three sentences. Answer only with JSON."
)


# The schema the model must follow. OpenAI's strict structured outputs accept no free-form
# objects (every property listed and required, null for "not found") and no length or range
# keywords, so the limits are checked by validators, which the schema does not show.


class AnsweredField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str | list[str]  # a list for a contract's parties
    evidence: str
    page: int

    @field_validator("page")
    @classmethod
    def _a_page_number(cls, page: int) -> int:
        if page < 1:
            raise ValueError("pages are numbered from 1")
        return page


class Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor: AnsweredField | None
    merchant: AnsweredField | None
    number: AnsweredField | None
    date: AnsweredField | None
    total: AnsweredField | None
    currency: AnsweredField | None
    parties: AnsweredField | None
    term: AnsweredField | None
    fees: AnsweredField | None


class Answer(BaseModel):
    """What the model answers, in the wire's names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    document_type: Literal["invoice", "receipt", "contract", "other"] = Field(alias="documentType")
    fields: Fields
    summary: str

    def found(self) -> dict[str, ExtractedField]:
        """The fields the model found, evidence kept short."""
        return {
            name: ExtractedField(
                value=field.value, evidence=field.evidence.strip()[:EVIDENCE_CHARS], page=field.page
            )
            for name, field in self.fields
            if field is not None
        }


class LLMUnavailable(Exception):
    """No valid answer from the endpoint: the heuristic result is used instead."""


class LLMAnalyzer:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout_seconds: float = 60,
        fallback: HeuristicAnalyzer | None = None,  # when no valid answer comes
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout_seconds
        self.fallback = fallback or HeuristicAnalyzer()

    def analyze(self, pages: list[str], hint: str) -> Analysis:
        try:
            with httpx.Client(timeout=self.timeout, headers=self.headers) as client:
                answers = [self._ask(client, chunk, hint) for chunk in chunks(pages)]
        except LLMUnavailable as err:
            logger.warning("LLM analyzer unavailable; using the heuristic one", extra={
                "reason": str(err)})  # fmt: skip
            fallback = self.fallback.analyze(pages, hint)
            return fallback.model_copy(update={"fallback_reason": str(err)})
        return merge(answers, analyzer=f"llm:{self.model}")

    def _ask(self, client: httpx.Client, chunk: list[tuple[int, str]], hint: str) -> Answer:
        text = "\n".join(f"--- page {number} ---\n{page}" for number, page in chunk)
        if hint in ("invoice", "receipt", "contract", "other"):
            text = f"(The sender says this is a {hint}.)\n{text}"
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": text},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "analysis",
                    "strict": True,
                    "schema": Answer.model_json_schema(by_alias=True),
                },
            },
        }
        answer = self._post(client, body)
        try:
            content = answer["choices"][0]["message"]["content"]
            return Answer.model_validate(json.loads(content))
        except ValidationError as err:
            # Where and what, never the values: they may quote the document.
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in err.errors(include_input=False, include_url=False)
            )
            raise LLMUnavailable(f"the model's answer is not a valid analysis: {problems}") from err
        except (KeyError, IndexError, TypeError, ValueError) as err:
            problem = type(err).__name__
            raise LLMUnavailable(f"the model's answer is not a valid analysis ({problem})") from err

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            asked: float | None = None
            try:
                response = client.post(self.url, json=body)
            except httpx.HTTPError as err:
                problem = f"{type(err).__name__}: {err}"
            else:
                if response.status_code == 200:
                    answer: dict[str, Any] = response.json()
                    return answer
                problem = f"the endpoint answered {response.status_code}"
                if not is_transient(response.status_code):
                    raise LLMUnavailable(problem)  # a request it will never accept
                asked = retry_after_seconds(response.headers.get("retry-after"))
            if attempt == MAX_ATTEMPTS:
                raise LLMUnavailable(f"{problem} ({MAX_ATTEMPTS} attempts)")
            time.sleep(BACKOFF.delay(attempt, asked))
        raise AssertionError("unreachable")


def chunks(pages: list[str], limit: int = CHUNK_CHARS) -> list[list[tuple[int, str]]]:
    """Consecutive pages (numbered from 1) in groups of at most ``limit`` characters."""
    groups: list[list[tuple[int, str]]] = [[]]
    size = 0
    for number, page in enumerate(pages, start=1):
        if groups[-1] and size + len(page) > limit:
            groups.append([])
            size = 0
        groups[-1].append((number, page[:limit]))
        size += min(len(page), limit)
    return groups


def merge(answers: list[Answer], analyzer: str) -> Analysis:
    """One result from a document's chunks: the first chunk's type (it has the title page),
    each field from the first chunk that found it, the summaries joined."""
    fields: dict[str, ExtractedField] = {}
    for answer in answers:
        for name, found in answer.found().items():
            fields.setdefault(name, found)
    summary = " ".join(a.summary for a in answers if a.summary)[:SUMMARY_CHARS]
    return Analysis(document_type=answers[0].document_type, fields=fields, summary=summary,
                    analyzer=analyzer)  # fmt: skip
