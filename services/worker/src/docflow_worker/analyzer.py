"""Document analysis: classify, pull out key fields, summarise. Offline and deterministic.

``Analyzer`` is the seam: anything with ``analyze(pages, hint)`` can replace the heuristic one
(``llm_analyzer.LLMAnalyzer`` does, when ``DOCFLOW_LLM_*`` is set). Every field carries the
evidence snippet and page it came from, so a user can check it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Protocol

from docflow_shared.models import Analysis, ExtractedField

KEYWORDS = {
    "invoice": ["invoice", "bill to", "amount due", "invoice number", "due date", "vat"],
    "receipt": ["receipt", "thank you for your purchase", "cash", "change", "subtotal", "card"],
    "contract": ["agreement", "party", "parties", "hereby", "term", "governing law", "whereas"],
}
CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
CURRENCY_CODES = {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "INR"}
MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1
)}  # fmt: skip

AMOUNT = r"(?P<cur>[$€£¥]|\b[A-Z]{3}\b)?[ \t]?(?P<num>\d{1,3}(?:[,. ]\d{3})*(?:[.,]\d{2})|\d+(?:[.,]\d{2})?)[ \t]?(?P<cur2>\b[A-Z]{3}\b|[$€£¥])?"  # noqa: E501


EVIDENCE_CHARS = 200


class Analyzer(Protocol):
    def analyze(self, pages: list[str], hint: str) -> Analysis: ...


@dataclass(frozen=True)
class Found:
    value: str | list[str]
    snippet: str
    page: int

    def as_field(self) -> ExtractedField:
        return ExtractedField(
            value=self.value, evidence=self.snippet.strip()[:EVIDENCE_CHARS], page=self.page
        )


def _search(
    pattern: str, pages: list[str], flags: int = re.IGNORECASE
) -> tuple[re.Match[str], int] | None:
    for number, text in enumerate(pages, start=1):
        match = re.search(pattern, text, flags)
        if match:
            return match, number
    return None


def _line_of(text: str, match: re.Match[str]) -> str:
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return text[start : end if end != -1 else len(text)]


def parse_amount(raw: str) -> Decimal | None:
    """``1.234,56``, ``1,234.56``, ``1 234.56`` and ``1234`` all read as decimals."""
    digits = raw.replace(" ", "")
    if re.search(r"[.,]\d{2}$", digits):
        whole, cents = digits[:-3], digits[-2:]
        digits = re.sub(r"[.,]", "", whole) + "." + cents
    else:
        digits = re.sub(r"[.,]", "", digits)
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def parse_date(raw: str) -> str | None:
    """ISO 8601 from ``2024-03-05``, ``05/03/2024`` (day first), ``March 5, 2024`` and so on."""
    raw = raw.strip()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", raw):
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        if m := re.fullmatch(r"(\d{1,2})[./](\d{1,2})[./](\d{4})", raw):
            return date(int(m[3]), int(m[2]), int(m[1])).isoformat()
        if m := re.fullmatch(r"([A-Za-z]{3,9})\.? (\d{1,2}),? (\d{4})", raw):
            return date(int(m[3]), MONTHS[m[1][:3].lower()], int(m[2])).isoformat()
        if m := re.fullmatch(r"(\d{1,2}) ([A-Za-z]{3,9})\.? (\d{4})", raw):
            return date(int(m[3]), MONTHS[m[2][:3].lower()], int(m[1])).isoformat()
    except (KeyError, ValueError):
        return None
    return None


# Other dates on the page that are not the document's own.
NOT_THE_DATE = "".join(
    f"(?<!{word} )" for word in ["due", "delivery", "expiry", "payment", "order"]
)
TOTAL_LABELS = r"(?:amount due|total due|balance due|grand total|total amount|amount payable|total)"
DATE = r"(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{4}|[A-Za-z]{3,9}\.? \d{1,2},? \d{4}|\d{1,2} [A-Za-z]{3,9}\.? \d{4})"  # noqa: E501


class HeuristicAnalyzer:
    """Keyword classification and labelled-value extraction; no network, same input same output."""

    def analyze(self, pages: list[str], hint: str) -> Analysis:
        text = "\n".join(pages)
        document_type = hint if hint in KEYWORDS or hint == "other" else self.classify(text)
        fields = {
            "invoice": self._invoice,
            "receipt": self._receipt,
            "contract": self._contract,
        }.get(document_type, lambda _p: {})(pages)
        return Analysis(
            document_type=document_type,
            fields={name: found.as_field() for name, found in fields.items() if found},
            summary=summarize(text),
            analyzer="heuristic",
        )

    @staticmethod
    def classify(text: str) -> str:
        lowered = text.lower()
        scores = {
            kind: sum(lowered.count(word) for word in words) for kind, words in KEYWORDS.items()
        }
        best = max(scores, key=lambda kind: scores[kind])
        return best if scores[best] >= 2 else "other"

    def _invoice(self, pages: list[str]) -> dict[str, Found | None]:
        total, currency = self._total(pages, TOTAL_LABELS)
        return {
            "vendor": self._labelled(pages, r"(?:from|vendor|seller|supplier)")
            or self._first_line(pages),
            "number": self._pattern(
                pages, r"invoice\s*(?:no\.?|number|#)\s*[:\-]?\s*([A-Z0-9][A-Z0-9\-/]*)"
            ),
            "date": self._date(pages, r"(?:invoice date|date of issue|issue date|date)"),
            "total": total,
            "currency": currency,
        }

    def _receipt(self, pages: list[str]) -> dict[str, Found | None]:
        total, currency = self._total(pages, r"(?:total|amount paid|amount)")
        return {
            "merchant": self._labelled(pages, r"(?:merchant|store)") or self._first_line(pages),
            "date": self._date(pages, r"(?:date)"),
            "total": total,
            "currency": currency,
        }

    def _contract(self, pages: list[str]) -> dict[str, Found | None]:
        # A name ends at a parenthesis, a comma, a line end or a sentence end ("Inc." is not one).
        parties = _search(
            r"between\s+(.+?)\s+(?:\(.*?\)\s+)?and\s+(.+?)"
            r"(?:\s+\(|[,;\n]|\.\s*$|\.\s+[A-Z][a-z])",
            pages,
        )
        term = self._pattern(
            pages, r"(?:term of|period of|for a term of)\s+([\w\s-]*?(?:months?|years?|days?))"
        )
        fees = self._total(pages, r"(?:fees?|compensation|price)(?:[ \t]+(?:of|amounting to))?")[0]
        found_parties = None
        if parties:
            match, page = parties
            found_parties = Found(
                [match[1].strip(), match[2].strip()], _line_of(pages[page - 1], match), page
            )
        return {"parties": found_parties, "term": term, "fees": fees}

    @staticmethod
    def _pattern(pages: list[str], pattern: str) -> Found | None:
        hit = _search(pattern, pages)
        if not hit:
            return None
        match, page = hit
        return Found(match[1].strip(), _line_of(pages[page - 1], match), page)

    def _labelled(self, pages: list[str], label: str) -> Found | None:
        return self._pattern(pages, label + r"\s*:\s*([^\n]+)")

    @staticmethod
    def _first_line(pages: list[str]) -> Found | None:
        for number, text in enumerate(pages, start=1):
            for line in text.splitlines():
                if len(line.strip()) >= 3 and not re.search(r"invoice|receipt", line, re.I):
                    return Found(line.strip(), line, number)
        return None

    @staticmethod
    def _date(pages: list[str], label: str) -> Found | None:
        """The date after ``label``; failing that, the first date in the document (a till slip
        prints it unlabelled at the top)."""
        hit = _search(NOT_THE_DATE + label + r"\s*[:\-]?\s*" + DATE, pages) or _search(
            r"(?<![\w./-])" + DATE, pages
        )
        if not hit:
            return None
        match, page = hit
        iso = parse_date(match[1])
        return Found(iso, _line_of(pages[page - 1], match), page) if iso else None

    @staticmethod
    def _total(pages: list[str], label: str) -> tuple[Found | None, Found | None]:
        # The label must start a word: "Subtotal" is not the total.
        hit = _search(r"(?<![A-Za-z])" + label + r"[ \t]*[:\-]?[ \t]*" + AMOUNT, pages)
        if not hit:
            return None, None
        match, page = hit
        amount = parse_amount(match["num"])
        if amount is None:
            return None, None
        line = _line_of(pages[page - 1], match)
        symbol = match["cur"] or match["cur2"]
        code = CURRENCY_SYMBOLS.get(symbol or "", symbol if symbol in CURRENCY_CODES else None)
        currency = Found(code, line, page) if code else None
        return Found(f"{amount:.2f}", line, page), currency


def summarize(text: str, sentences: int = 3, limit: int = 400) -> str:
    """The first few real sentences: extractive, so every word of it is in the document."""
    flat = re.sub(r"\s+", " ", text).strip()
    parts = [s.strip() for s in re.split(r"(?<=[.!?])\s+", flat) if len(s.split()) >= 4]
    summary = " ".join(parts[:sentences]) or flat
    return summary[:limit].rstrip() + ("…" if len(summary) > limit else "")
