"""Document analysis: classify, pull out key fields, summarise. Offline and deterministic.

``Analyzer`` is the seam: anything with ``analyze(pages, hint)`` can replace the heuristic one
(``llm_analyzer.LLMAnalyzer`` does, when ``DOCFLOW_LLM_*`` is set).

Precision first: a wrong total is worse than none (it gets paid). So every field is chosen, not
grabbed: each line that could hold it gives a candidate, scored by what labels it (in seven
languages, ``vocabulary``), where it is and how it agrees with the rest (net + tax = gross, a
total is not below its subtotal). A field's confidence is its best candidate's score, less when
another value scores near it. A field below ``min_confidence`` comes back with no value and its
candidates, for a person to choose. Every field carries the evidence line and page it came from.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol

from docflow_shared.models import Analysis, Candidate, ExtractedField

from . import dates, money, vocabulary
from .vocabulary import (
    BUYER,
    DATE,
    INVOICE_DATE,
    INVOICE_NUMBER,
    KIND_WORDS,
    LEGAL_FORMS,
    NOT_THE_DATE,
    NOT_TOTAL,
    PAID_BY_CARD,
    PAYABLE,
    SELLER,
    SUBTOTAL,
    TAX,
    TITLES,
    TOTAL,
)

EVIDENCE_CHARS = 200
ISSUERS = ("vendor", "merchant")
NOT_TOTAL_KINDS = ("not total", "tax", "subtotal")
TOP_LINES = 12  # a page's head: where its issuer and its date are
TITLE_LINES = 5  # where a document's title is
TOTAL_WORDS = PAYABLE + TOTAL
DEFAULT_MIN_CONFIDENCE = 0.6
# What a document of each kind must have for it to go through without a person.
REQUIRED_FIELDS = {
    "invoice": ("vendor", "date", "total", "currency"),
    "receipt": ("merchant", "date", "total"),
    "contract": ("parties",),
}


CANDIDATES_KEPT = 3
# A rival value scoring this much of the best makes the best unsure.
RIVAL_WEIGHT = 0.5
# Number labels that name an invoice's number outright; the rest ("No.", "Nr") only may.
SPECIFIC_NUMBER = re.compile(
    r"invoice|rechnung|factur|factuur|faktur|fattura|beleg|receipt|bill|bon", re.IGNORECASE
)
# "incl. VAT" says the tax is in: not a tax amount.
_INCLUDED_TAX = re.compile(
    r"\b(incl|inkl|including|inclusive|with|avec|met|con|z)\.?\s+(?:of\s+)?"
    r"(?:vat|tax|mwst|ust|tva|btw|iva|gst|podatkiem|taxes)\b",
    re.IGNORECASE,
)
# OCR's debris at a name's ends ("[, real GmbH"): marks, not markup (a "<" the document printed
# stays, and is shown as text).
_MARKS = r"\s\[\]|,;:~_*'\"`\u2022\u00b7\u00b4\u2018\u2019\u201c\u201d\u201e\-"
_DEBRIS = re.compile(rf"^[{_MARKS}.©®™]+|[{_MARKS}©®™(]+$")  # and a logo's ® or ©
# Words in a line that is about a company, not its name.
NOT_A_NAME = [
    "vat",
    "vat no",
    "ust-id",
    "ust-idnr",
    "steuernummer",
    "iban",
    "bic",
    "purchased",
    "registered",
    "amtsgericht",
    "handelsregister",
    "tel",
    "fax",
    "phone",
    "email",
    "signature",
]
# A web or e-mail address's name: the label before its top-level domain (www.thalia.de).
_DOMAIN = re.compile(r"(?:www\.|https?://|@)(?:[\w-]+\.)*?([\w-]+)\.[a-z]{2,6}\b", re.IGNORECASE)
_DOMAIN_ITSELF = re.compile(r"\w\.[a-z]{2,6}(?:/|\b)", re.IGNORECASE)  # "edf.fr", not "E.Leclerc"
NOT_AN_ISSUERS_DOMAIN = {"gmail", "googlemail", "yahoo", "hotmail", "outlook", "live", "gmx",
                         "web", "icloud", "aol", "tonline", "example", "yourdomain", "domain",
                         "email", "mail"}  # fmt: skip
# A street or a postcode and town: the line after a letterhead's name.
ADDRESS = re.compile(
    r"\d+\w?,?\s+(?:[\w'.-]+\s+){0,3}(?:street|st\.?|road|rd\.?|avenue|ave\.?|lane|way|drive|"
    r"square|place|straße|strasse|str\.|weg|platz|gasse|allee|ring|rue|boulevard|bd|straat|"
    r"laan|plein|gracht|ulica|calle|avenida|via|piazza|corso)\b"
    r"|\b(?:straße|strasse|str\.|rue|ul\.|calle|via|straat)\s+[\w'.-]+\s+\d+"
    r"|[\w-]*(?:straße|strasse|strabe|str\.|weg|platz|gasse|allee|damm|ufer)\s*\d+"
    r"|\b\d{4,5}\s+[A-ZÄÖÜ][\w-]+"
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"  # a UK postcode
    r"|^\s*(?:ZAC|ZA|ZI|ZAE)\s+(?:de|du|des|d')",  # a French business park ("ZAC de la Mivoie")
    re.IGNORECASE,
)
# A sentence's or a label's end: a word of three letters or more, then ".", "!" or ":".
_SENTENCE_END = re.compile(r"([^\W\d_]{3,})[.!:]$")
# A postal address's state or province and its code, or a town and its state ending a line
# ("CHICAGO, IL"): the country, and so which dollar "$" is.
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|"
    "NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
_CA_PROVINCES = "AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT"
DOLLAR_ADDRESSES = {
    "USD": re.compile(rf"\b(?:{_US_STATES}),?\s+\d{{5}}(?:-\d{{4}})?\b|,\s*(?:{_US_STATES})$",
                      re.MULTILINE),
    "CAD": re.compile(rf"\b(?:{_CA_PROVINCES}),?\s+[A-Z]\d[A-Z]\s?\d[A-Z]\d\b"
                      rf"|,\s*(?:{_CA_PROVINCES})$", re.MULTILINE),
    "AUD": re.compile(r"\b(?:NSW|VIC|QLD|WA|SA|TAS|ACT|NT),?\s+\d{4}\b"),
}  # fmt: skip
# Buyer labels only when alone on their line ("To", above the buyer's name and address).
BUYER_ALONE = {"to", "an", "aan", "dla", "para"}
PAYMENT_TITLES = TITLES["invoice"] + TITLES["receipt"]
# A title as a number's label: "FACTURE: ABC12345", but as often "invoice L060" under a logo.
BARE_TITLES = {vocabulary.fold(title) for title in INVOICE_NUMBER if title in PAYMENT_TITLES}
LABELS = [*INVOICE_NUMBER, *DATE, *INVOICE_DATE, *NOT_THE_DATE, *TOTAL_WORDS, *NOT_TOTAL, *SELLER,
          *BUYER]  # fmt: skip
_TIME_UNIT = re.compile(
    r"\s*(?:days?|tage?n?|jours?|dagen|dni|d[ií]as|giorni|months?|monate?n?|mois|maanden)\b",
    re.IGNORECASE,
)
# After its label, a number's marks ("Invoice No: #INV03051"), then the number itself.
_NUMBER_VALUE = re.compile(r"(?:\s*(?:[:#.\-]|n[°º]|no\.?))*\s*([A-Za-z0-9][A-Za-z0-9\-/_.]{1,29})")


class Analyzer(Protocol):
    def analyze(self, pages: list[str], hint: str) -> Analysis: ...


@dataclass(frozen=True)
class Line:
    page: int
    index: int  # on its page
    text: str


@dataclass(frozen=True)
class Scored:
    """One candidate for a field: its value, how likely it is, and the line it is on."""

    value: str | list[str]
    score: float
    line: Line

    def as_candidate(self) -> Candidate:
        return Candidate(value=self.value, evidence=_evidence(self.line), page=self.line.page,
                         confidence=round(self.score, 2))  # fmt: skip


def _evidence(line: Line) -> str:
    return line.text.strip()[:EVIDENCE_CHARS]


def choose(
    candidates: list[Scored], min_confidence: float, same: Callable[[str], str] = str
) -> ExtractedField | None:
    """The field from its candidates: the best value, unsure by as much as a rival value comes
    near it (one scoring as high halves it; one scoring 80 % of it takes a fifth); below
    ``min_confidence``, no value, and the candidates to choose from. ``same`` says which
    values are one (a name written twice, once with its legal form)."""
    if not candidates:
        return None
    best_by_value: dict[str, Scored] = {}
    for candidate in sorted(candidates, key=lambda c: -c.score):
        best_by_value.setdefault(same(str(candidate.value)), candidate)
    ranked = list(best_by_value.values())
    best = ranked[0]
    rival = ranked[1].score / best.score if len(ranked) > 1 and best.score > 0 else 0.0
    confidence = round(max(0.0, min(1.0, best.score * (1 - RIVAL_WEIGHT * rival**4))), 2)
    kept = [replace(c, score=min(c.score, 1.0)).as_candidate() for c in ranked[:CANDIDATES_KEPT]]
    sure = confidence >= min_confidence
    return ExtractedField(
        value=best.value if sure else None,
        evidence=_evidence(best.line),
        page=best.line.page,
        confidence=confidence,
        candidates=[] if sure and len(ranked) == 1 else kept,
    )


def _first_word(name: str) -> str:
    """A name's first word, folded: "Aldi GmbH & Co" and "ALDI SÜD" are one issuer."""
    words = re.findall(r"\w+", vocabulary.fold(name).casefold())
    return words[0] if words else name


class HeuristicAnalyzer:
    """Multilingual, scored heuristics; no network, the same input gives the same output (but
    for a date after the day it runs: none is the date of a document)."""

    def __init__(self, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> None:
        self.min_confidence = min_confidence

    def analyze(self, pages: list[str], hint: str) -> Analysis:
        text = "\n".join(pages)
        document_type = hint if hint in KIND_WORDS or hint == "other" else self.classify(text)
        lines = [Line(number, index, line) for number, page in enumerate(pages, start=1)
                 for index, line in enumerate(page.splitlines())]  # fmt: skip
        if document_type in ("invoice", "receipt"):
            candidates = _payment_document(lines, text, document_type)
        elif document_type == "contract":
            candidates = _contract(lines)
        else:
            candidates = {}
        fields = {
            name: choose(found, self.min_confidence, _first_word if name in ISSUERS else str)
            for name, found in candidates.items()
        }
        return Analysis(
            document_type=document_type,
            fields={name: field for name, field in fields.items() if field is not None},
            summary=summarize(text),
            analyzer="heuristic",
        )

    @staticmethod
    def classify(text: str) -> str:
        """The kind whose words the text has most (at least two), a title near the top counting
        twice over; failing that, a document with a total is a payment's: an invoice or a
        receipt, whichever words it has more of."""
        scores = {kind: vocabulary.count(words, text) for kind, words in KIND_WORDS.items()}
        top = [line for line in text.splitlines() if line.strip()][:TITLE_LINES]
        for kind, titles in TITLES.items():
            if any(vocabulary.match(titles, line.strip()) for line in top):
                scores[kind] += 2
        ranked = sorted(scores.items(), key=lambda kind_score: -kind_score[1])
        (best, score), (_, second) = ranked[0], ranked[1]
        if score >= 2 and score > second:
            return best
        if any(vocabulary.find(TOTAL_WORDS, line) and money.amounts_in(line)
               for line in text.splitlines()):  # fmt: skip
            return "invoice" if scores["invoice"] > scores["receipt"] else "receipt"
        return "other"


def _payment_document(lines: list[Line], text: str, kind: str) -> dict[str, list[Scored]]:
    columns = _labels_above(lines)
    totals, currency = _totals(lines, columns, text)
    # The currency hints at how a date whose day and month could be swapped is written.
    hint = (str(currency[0].value), currency[0].score) if currency else None
    return {
        "merchant" if kind == "receipt" else "vendor": _issuers(lines, kind),
        "number": _numbers(lines, columns, specific=kind == "receipt"),
        "date": _dates(lines, columns, text, hint),
        "total": totals,
        "currency": currency,
    }


# -- totals and their currency -----------------------------------------------------------------


def _totals(
    lines: list[Line], columns: dict[int, Line], text: str
) -> tuple[list[Scored], list[Scored]]:
    """Each labelled amount, scored by its label; then cross-checked against the others."""
    found: list[tuple[Scored, money.Money, str]] = []  # (candidate, amount, its label's kind)
    not_totals: list[Decimal] = []
    previous: Line | None = None
    for position, line in enumerate(lines):
        amounts = [m for m in money.amounts_in(line.text) if m.amount and _is_money(m, line)]
        if not amounts:
            previous = line
            continue
        label, kind = _total_label(line.text, amounts[-1].start)
        label_line = columns.get(position, previous)
        if kind is None and label_line is not None and label_line.page == line.page:
            # A label alone above its value ("Total" on one line, the amount on the next), or
            # level with it in a column of labels.
            label, kind = _total_label(label_line.text, len(label_line.text))
            if _label_alone(label_line.text, [*TOTAL_WORDS, *NOT_TOTAL]):
                label -= 0.05
            else:
                label, kind = 0.0, None
        if kind in NOT_TOTAL_KINDS:
            if kind != "not total":  # a subtotal or a tax: what a gross adds up from
                not_totals += [m.amount for m in amounts]
        elif kind is not None:
            amount = amounts[-1]  # the rightmost: a label's own amount ends its line
            found.append((Scored(f"{amount.amount:.2f}", label, line), amount, kind))
        previous = line
    found = _cross_checked(found, not_totals)
    if not found:
        return [], _document_currency(lines)
    best = max(found, key=lambda f: f[0].score)
    return [f[0] for f in found], _currency(best[1], best[0].line, lines)


def _is_money(amount: money.Money, line: Line) -> bool:
    """Whether an amount is money: it has a currency sign or cents ("30 days", "2 pcs" and a
    year are not), and no unit of time follows it."""
    printed = line.text[amount.start : amount.end]
    if not amount.currencies and not re.search(r"[.,]\d{2}$", printed):
        return False
    return not _TIME_UNIT.match(line.text, amount.end)


def _label_alone(text: str, labels: list[str]) -> bool:
    """Whether the line is nothing but one of ``labels`` ("Amount due:", "NUMBER"): not a
    table's header ("Description  Qty  Amount"), nor a label with its value."""
    stripped = text.strip()
    label = vocabulary.match(labels, stripped)
    return label is not None and not stripped[label.end() :].strip(" :.#")


# Words between a label and an amount in a sentence, not a label's own amount ("Total for this
# invoice $4.11" has three).
SENTENCE_WORDS = 5


def _total_label(text: str, before: int) -> tuple[float, str | None]:
    """How strongly ``text`` labels the amount at ``before`` as the total: the nearest label to
    its left decides ("Total excl. VAT" is not the total; "Total incl. VAT" is)."""
    head = _INCLUDED_TAX.sub(r"\1", text[:before])
    labels = [(m.end(), -m.start(), rank, score, kind) for rank, (words, score, kind) in enumerate(
        [(PAID_BY_CARD, 0.65, "card"), (TOTAL, 0.75, "total"), (PAYABLE, 0.9, "payable"),
         (NOT_TOTAL, 0.0, "not total"), (TAX, 0.0, "tax"), (SUBTOTAL, 0.0, "subtotal")])
        for m in vocabulary.finditer(words, head)]  # fmt: skip
    if not labels:
        return 0.0, None
    # The nearest label; ending at one place, the longer, then the more specific one.
    end, *_, score, kind = max(labels)
    if len(re.findall(r"[^\W\d_]{2,}", head[end:])) > SENTENCE_WORDS:
        return 0.0, None  # a sentence about the total ("Im Endbetrag ist … von 2,72 EUR")
    if kind == "total" and any(label[-1] in NOT_TOTAL_KINDS for label in labels):
        return 0.5, kind  # "Net 100  VAT 21  Total 121": a tax summary's total
    return score, kind


def _cross_checked(
    found: list[tuple[Scored, money.Money, str]], not_totals: list[Decimal]
) -> list[tuple[Scored, money.Money, str]]:
    """Labelled totals adjusted by the rest: one the subtotal exceeds is suspect; the largest
    payable amount, a gross that net + tax add up to, and a total the card was charged are
    likelier."""
    if not found:
        return found
    largest = max(f[1].amount for f in found)
    sums = {a + b for a in not_totals for b in not_totals if a != b}
    charged = {amount.amount for _, amount, kind in found if kind == "card"}
    checked = []
    for candidate, amount, kind in found:
        score = candidate.score
        if not_totals and amount.amount < max(not_totals) and kind != "payable":
            score -= 0.3
        if amount.amount == largest:
            score += 0.05
        if amount.amount in sums or (kind != "card" and amount.amount in charged):
            score += 0.1
        checked.append((replace(candidate, score=min(score, 0.99)), amount, kind))
    return checked


def _currency(total: money.Money, line: Line, lines: list[Line]) -> list[Scored]:
    """The total's own sign; an ambiguous one ($, kr) settled by a code elsewhere in the
    document; no sign, the document's currency."""
    if total.currency:
        return [Scored(total.currency, 0.95, line)]
    if total.currencies:
        named = [code for code, _ in _currencies(lines) if code in total.currencies]
        if named:
            return [Scored(Counter(named).most_common(1)[0][0], 0.85, line)]
        dollar = _dollar_by_address(lines)
        if dollar in total.currencies:
            return [Scored(dollar, 0.85, line)]
        if "USD" in total.currencies:  # "$" alone: most often, not always, US dollars
            return [Scored("USD", 0.65, line)]
        return [Scored(code, 0.3, line) for code in sorted(total.currencies)]
    return _document_currency(lines)


def _dollar_by_address(lines: list[Line]) -> str | None:
    """The dollar of the one country the document's postal addresses are in, if one is."""
    text = "\n".join(line.text for line in lines)
    found = {code for code, address in DOLLAR_ADDRESSES.items() if address.search(text)}
    return found.pop() if len(found) == 1 else None


def _document_currency(lines: list[Line]) -> list[Scored]:
    """The currency the document's amounts are written in; failing any, the one its signs
    and codes name anywhere ("EUR" heading a till slip's column), less surely."""
    for mentions, all_agree in ((_currencies(lines), 0.75), (_currencies(lines, alone=True), 0.65)):
        counts = Counter(code for code, _ in mentions)
        first_line = {code: line for code, line in reversed(mentions)}
        if len(counts) == 1:
            return [Scored(code, all_agree, first_line[code]) for code in counts]
        if counts:
            total = sum(counts.values())
            return [Scored(code, 0.4 * n / total, first_line[code]) for code, n in counts.items()]
    return []


def _currencies(lines: list[Line], alone: bool = False) -> list[tuple[str, Line]]:
    """Each unambiguous currency an amount is written with (``alone``: any sign or code on
    the page), with its line."""
    found = []
    for line in lines:
        signs = (money.signs_in(line.text) if alone
                 else [m.currencies for m in money.amounts_in(line.text)])  # fmt: skip
        found += [(next(iter(codes)), line) for codes in signs if len(codes) == 1]
    return found


# -- dates ----------------------------------------------------------------------------------------


def _dates(
    lines: list[Line], columns: dict[int, Line], text: str, currency: tuple[str, float] | None
) -> list[Scored]:
    order = dates.numeric_order(text, currency)
    found: list[Scored] = []
    unlabelled: list[tuple[dates.FoundDate, Line]] = []
    previous: Line | None = None
    # No document is issued after today (a day's grace for time zones): a later date is a due
    # date, or OCR's misreading of a year ("18.05.29").
    latest = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    towns = _towns(lines)
    for position, line in enumerate(lines):
        found_here = dates.dates_in(line.text, order)
        if not found_here and vocabulary.find([*DATE, *INVOICE_DATE], line.text):
            found_here = dates.garbled_dates_in(line.text)  # a labelled date OCR garbled
        for date in (date for date in found_here if date.iso <= latest):
            score = _date_label(line.text[: date.start])
            if score is None and _a_letters_date(line.text, date, towns):
                score = LETTERS_DATE
            label_line = columns.get(position, previous)
            if score is None and label_line is not None and not dates.dates_in(label_line.text):
                above = _date_label(label_line.text)
                score = above - 0.05 if above is not None else None
            if score is None:
                unlabelled.append((date, line))
            else:
                found.append(Scored(date.iso, score * date.certainty, line))
        previous = line
    # Unlabelled, a till slip's date at the top: likely when it is the document's only date.
    only = len({date.iso for date, _ in unlabelled}) == 1 and not found
    for rank, (date, line) in enumerate(unlabelled):
        # Else the first date, near the top of the first page, is likelier the document's.
        near_top = line.page == 1 and line.index < TOP_LINES
        score = 0.7 if only else (0.6 if rank == 0 and near_top and not found else 0.25)
        found.append(Scored(date.iso, score * date.certainty, line))
    return found


# A postcode and its town; a town, then a letter's date ("Berlin, den", "Paris, le").
_TOWN = re.compile(r"\b\d{4,5}\s+([A-ZÄÖÜÉ][\w-]+)")
_LETTERS_PLACE = re.compile(r"\s*([A-ZÄÖÜÉ][\w-]+)\s*,?\s*(?:den|le|el|il|am)?\s*")
LETTERS_DATE = 0.85  # as sure as "Dated"


def _towns(lines: list[Line]) -> set[str]:
    """The towns of the document's postal addresses ("91244 Reichenschwand")."""
    return {town.casefold() for line in lines for town in _TOWN.findall(line.text)}


def _a_letters_date(text: str, date: dates.FoundDate, towns: set[str]) -> bool:
    """Whether the line is a letter's place and date, and nothing else: "Reichenschwand
    04.07.2023", "Paris, le 12 mars 2024" (the place one of the document's towns)."""
    place = _LETTERS_PLACE.fullmatch(text[: date.start])
    return place is not None and place[1].casefold() in towns and not text[date.end :].strip()


def _date_label(head: str) -> float | None:
    """The score the nearest date label in ``head`` gives the date after it ("Due date" ends
    where its "date" does: the more specific label wins)."""
    labels = [(m.end(), -m.start(), rank, score) for rank, (words, score) in enumerate(
        [(DATE, 0.8), (INVOICE_DATE, 0.9), (NOT_THE_DATE, 0.1)])
        for m in vocabulary.finditer(words, head)]  # fmt: skip
    return max(labels)[-1] if labels else None


# -- numbers and issuers ------------------------------------------------------------------------


def _numbers(lines: list[Line], above: dict[int, Line], specific: bool = False) -> list[Scored]:
    """The document's number after its label (``above``: each line's label above it, by
    :func:`_labels_above`); ``specific``: only after a label that names it outright (a till
    slip's "No." is its till's, its table's or its phone's)."""
    found = []
    for position, line in enumerate(lines):
        # Its label before it on its line ("Invoice No: 117"), or alone on the line above it
        # ("NUMBER", then "0276"): the label, where the value starts, what the distance costs.
        labelled = [(label, label.end(), 0.0)
                    for label in vocabulary.finditer(INVOICE_NUMBER, line.text)]  # fmt: skip
        label_line = above.get(position)
        if label_line is not None and _label_alone(label_line.text, INVOICE_NUMBER):
            label = vocabulary.match(INVOICE_NUMBER, label_line.text.strip())
            labelled += [(label, 0, 0.05)] if label else []
        for label, start, distance in labelled:
            named = SPECIFIC_NUMBER.search(label.group()) is not None
            if specific and not named:
                continue
            token = _number_at(line.text, start)
            if token is not None:
                score = _number_label_score(label.group(), named) - distance
                found.append(Scored(token, score, line))
                break
    return found


def _number_label_score(label: str, named: bool) -> float:
    if " ".join(label.lower().split()) in BARE_TITLES:
        return 0.7  # a title ("Invoice FI1563…"): as likely a logo's or a heading's words
    return 0.85 if named else 0.55


def _labels_above(lines: list[Line]) -> dict[int, Line]:
    """Each line's label standing above it, by the line's position: the line before it when
    that is a label alone ("NUMBER", then "0276"); in a column of labels followed by a column
    of as many values (a PDF's text read column by column: "Invoice Number:", "Invoice Date:",
    then "INV04789023", "2023-11-13"), the label level with it."""
    above: dict[int, Line] = {}
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and lines[end].page == lines[start].page and _a_label(lines[end]):
            end += 1
        size = end - start
        values = lines[end : end + size]
        if size == 1 and values and values[0].page == lines[start].page:
            above[end] = lines[start]
        elif (
            size > 1
            and len(values) == size
            and all(
                v.page == lines[start].page and v.text.strip() and not _a_label(v) for v in values
            )
        ):
            above.update({end + offset: lines[start + offset] for offset in range(size)})
        start = max(end, start + 1)
    return above


def _a_label(line: Line) -> bool:
    """Whether a line is a field's label alone: no digit, and a colon at its end or known
    labels at both ends ("Invoice Date:", "Customer number", "Period"; not a table's header,
    "Item Quantity Rate Amount")."""
    text = line.text.strip()
    known = vocabulary.match(LABELS, text) is not None and _ends_in_label(line, LABELS)
    return bool(text) and not any(ch.isdigit() for ch in text) and (text.endswith(":") or known)


def _ends_in_label(line: Line, labels: list[str]) -> bool:
    """Whether ``line`` ends in one of ``labels`` ("Customer number", "Date of issue"), no
    value after it."""
    text = line.text.strip()
    return any(not text[label.end() :].strip(" :#")
               for label in vocabulary.finditer(labels, text))  # fmt: skip


def _number_at(text: str, at: int) -> str | None:
    """The document number at ``at`` in ``text`` (after its label), if one is: it has a
    digit, and is neither a date nor an amount."""
    value = _NUMBER_VALUE.match(text, at)
    if value is None or not any(ch.isdigit() for ch in value[1]):
        return None
    token = value[1].rstrip(".-/")
    an_amount = ("." in token or "," in token) and bool(money.amounts_in(token))
    return None if dates.dates_in(token) or an_amount else token


def _issuers(lines: list[Line], kind: str) -> list[Scored]:
    """Who issued it: a name after a seller label; a company (a legal form) near the top and
    not in a bill-to block; failing those, the first plausible line."""
    found: list[Scored] = []
    top = [line for line in lines if line.page == 1 and line.text.strip()][:TOP_LINES]
    for position, line in enumerate(lines):
        label = vocabulary.match(SELLER, line.text.strip())
        if label:
            rest = _name_on(line)
            following = lines[position + 1] if position + 1 < len(lines) else None
            name = rest or (following.text.strip() if following else "")
            if _plausible_name(name):
                found.append(Scored(name, 0.85, line if rest else following or line))
    first: Scored | None = None
    for rank, line in enumerate(top):
        name = _name_on(line)
        if not _plausible_name(name) or _in_buyer_block(lines, line):
            continue
        if vocabulary.find(LEGAL_FORMS, line.text):
            found.append(Scored(name, 0.78 - 0.02 * rank, line))
        elif first is None and rank < 3:
            # A till slip starts with its shop, an invoice as often with a logo's words, a
            # bill-to block or a stamp: a first line is a name when an address follows it
            # (its street, or its postcode and town under a street the pattern does not know).
            letterhead = any(ADDRESS.search(below.text) for below in top[rank + 1 : rank + 3])
            first = Scored(name, 0.5 + 0.2 * letterhead, line)
    # A company's legal name in the footer (a till slip's, an invoice's imprint).
    last_page = [line for line in lines if line.page == lines[-1].page and line.text.strip()]
    for line in last_page[-10:]:
        name = _name_on(line)
        if line not in top and _plausible_name(name) and vocabulary.find(LEGAL_FORMS, line.text):
            found.append(Scored(name, 0.62, line))
    if not found and first is not None:
        found.append(first)
    # A name its own web or e-mail address spells ("Thalia" and thalia.de): the issuer's.
    domains = _domain_names(lines)
    for line in lines:
        name = _name_on(line)
        if (line.page == 1 and domains and _plausible_name(name)
                and not _in_buyer_block(lines, line) and _spelled_by(name, domains)):  # fmt: skip
            # Its own address spells it, and a legal form or a letterhead names it too: surer.
            same = [c.score for c in found if _first_word(str(c.value)) == _first_word(name)]
            also = max(same, default=0.0)
            found.append(Scored(name, 0.85 if also >= 0.6 else 0.8, line))
    return found


def _domain_names(lines: list[Line]) -> set[str]:
    """The names in the document's web and e-mail addresses (``thalia`` of www.thalia.de),
    but not those of mail providers or of placeholders."""
    names = set()
    for line in lines:
        for address in _DOMAIN.finditer(line.text):
            name = address[1].lower().replace("-", "")
            if len(name) >= 3 and name not in NOT_AN_ISSUERS_DOMAIN:
                names.add(name)
    return names


def _spelled_by(name: str, domains: set[str]) -> bool:
    """Whether ``name``'s words (three letters or more, legal forms aside) and one of the
    domain names are mostly each other: "Stanford Plumbing & Heating" and plumbingstanford, but
    not a sentence that mentions the brand, nor the address itself."""
    if _DOMAIN_ITSELF.search(name):
        return False
    words = [w for w in re.findall(r"[a-z0-9]+", vocabulary.without(LEGAL_FORMS, name).lower())
             if len(w) >= 3]  # fmt: skip
    letters = sum(len(w) for w in words)
    for domain in domains:
        spelled = sum(len(w) for w in words if w in domain)
        if spelled and spelled >= 0.6 * len(domain) and spelled >= 0.6 * letters:
            return True
    return False


def _name_on(line: Line) -> str:
    """A line as a name: without a seller label before it, stray marks at its ends, or what
    follows a comma or a dash after a legal form ("Aldi GmbH & Co. KG, Holte")."""
    name = line.text.strip()
    if _a_sentence(name):
        return ""  # a slogan ("More saving."), or a label ("More doing:")
    if label := vocabulary.match(SELLER, name):
        name = name[label.end() :].lstrip(" :").strip()
    name = _DEBRIS.sub("", _without_title(name))
    form = vocabulary.find(LEGAL_FORMS, name)
    if form and (dash := re.search(r"\s[\u2013-]\s", name[: form.start()])):
        return name[: dash.start()].strip()  # "BOUYGUES TELECOM - Société Anonyme au capital"
    cut = re.search(r"[,\u2013-]", name[form.end() :]) if form else None
    if form and cut:
        name = name[: form.end() + cut.start()].strip()  # "Aldi GmbH & Co. KG, Holte"
    return name


def _without_title(name: str) -> str:
    """A letterhead's name without the document's title set beside it ("Stanford Plumbing &
    Heating INVOICE")."""
    for found in vocabulary.finditer(PAYMENT_TITLES, name):
        if found.start() > 0 and not name[found.end() :].strip(" :"):
            return name[: found.start()].strip()
    return name  # not one at its start: "Rechnung an: …" is the buyer's


def _wordlike(text: str) -> bool:
    """Whether a line reads as words, not as OCR's reading of a logo ("i tt (l RNS ik atin")."""
    # Initials ("B.V.", "S.A.") are no words, and no evidence against: letters of two or more.
    tokens = [t for t in re.findall(r"[^\W\d_]+", text) if len(t) >= 2]
    if not tokens:
        return False
    words = [t for t in tokens if vocabulary.find(LEGAL_FORMS, t)
             or (len(t) >= 3 and re.search("[aeiouyäöüéèáíóú]", t, re.IGNORECASE))]  # fmt: skip
    odd = sum(not (ch.isalnum() or ch.isspace() or ch in "&.,'-()") for ch in text)
    return len(words) * 2 >= len(tokens) and odd * 5 <= len(text)


def _plausible_name(text: str) -> bool:
    letters = sum(ch.isalpha() for ch in text)
    return (
        3 <= len(text) <= 80
        and _wordlike(text)
        and letters >= 3
        # a legal form alone ("SARL") names nobody
        and bool(vocabulary.without(LEGAL_FORMS, text).strip(" .,&"))
        and not any(m.currencies or m.amount != int(m.amount) for m in money.amounts_in(text))
        and not dates.dates_in(text)
        and not ADDRESS.search(text)
        and not vocabulary.find([*PAYABLE, *TOTAL, *NOT_A_NAME], text)
        and not vocabulary.find([*PAYMENT_TITLES, "page", "seite"], text)  # a title is no name
        and not re.search(
            r"@|www\.|https?:|\+\d", text, re.IGNORECASE
        )  # contact lines ("tel": NOT_A_NAME)
        and "$" not in text  # OCR's reading of a logo, or a price
    )


def _a_sentence(text: str) -> bool:
    """Whether a line ends as a sentence does (a slogan: "More saving."), not with a legal
    form's abbreviation ("Contoso Ltd.")."""
    end = _SENTENCE_END.search(text)
    return end is not None and not vocabulary.match(LEGAL_FORMS, end[1])


def _in_buyer_block(lines: list[Line], line: Line) -> bool:
    """Whether ``line`` is in an address block a buyer label starts (within three lines)."""
    position = lines.index(line)
    for earlier in lines[max(0, position - 3) : position + 1]:
        alone = vocabulary.fold(earlier.text).strip(" :").lower() in BUYER_ALONE
        if earlier.page == line.page and (alone or vocabulary.find(BUYER, earlier.text)):
            return True
    return False


# -- contracts ----------------------------------------------------------------------------------


def _contract(lines: list[Line]) -> dict[str, list[Scored]]:
    text = "\n".join(line.text for line in lines)
    found: dict[str, list[Scored]] = {"parties": [], "term": [], "fees": []}
    # A name ends at a parenthesis, a comma, a line end or a sentence end ("Inc." is not one).
    parties = re.search(
        r"between\s+(.+?)\s+(?:\(.*?\)\s+)?and\s+(.+?)(?:\s+\(|[,;\n]|\.\s*$|\.\s+[A-Z][a-z])",
        text,
        re.IGNORECASE,
    )
    if parties:
        found["parties"].append(Scored([parties[1].strip(), parties[2].strip()], 0.8,
                                       _line_at(lines, parties.start())))  # fmt: skip
    term = re.search(
        r"(?:term of|period of|for a term of)\s+([\w\s-]*?(?:months?|years?|days?))",
        text,
        re.IGNORECASE,
    )
    if term:
        found["term"].append(Scored(term[1].strip(), 0.8, _line_at(lines, term.start())))
    for line in lines:
        label = vocabulary.find(("fee", "fees", "compensation", "price"), line.text)
        amounts = money.amounts_in(line.text[label.end() :]) if label else []
        if amounts:
            found["fees"].append(Scored(f"{amounts[0].amount:.2f}", 0.8, line))
            break
    return found


def _line_at(lines: list[Line], offset: int) -> Line:
    for line in lines:
        offset -= len(line.text) + 1
        if offset < 0:
            return line
    return lines[-1]


def incomplete(analysis: Analysis) -> bool:
    """No kind of document found, or a field its kind requires without a value."""
    required = REQUIRED_FIELDS.get(analysis.document_type)
    if required is None:
        return True
    return any(analysis.fields.get(name) is None or analysis.fields[name].value is None
               for name in required)  # fmt: skip


def summarize(text: str, sentences: int = 3, limit: int = 400) -> str:
    """The first few real sentences: extractive, so every word of it is in the document."""
    flat = re.sub(r"\s+", " ", text).strip()
    parts = [s.strip() for s in re.split(r"(?<=[.!?])\s+", flat) if len(s.split()) >= 4]
    summary = " ".join(parts[:sentences]) or flat
    return summary[:limit].rstrip() + ("…" if len(summary) > limit else "")
