"""Dates as documents print them, in the languages docflow reads, read by ``dateparser``.

A numeric date whose first two numbers could each be the day or the month (``11/03/2017``) is
ambiguous; it is read by an explicit rule, and says how certain that reading is:
0. dots (``11.03.2017``) are written day first: nowhere writes the month first with dots;
1. another date in the same document that is not ambiguous shows its order
   (``03/20/2023`` is month first, so ``04/05/2023`` beside it is April 5th);
2. else the currency of the document: US dollars print month first, the others day first (a
   custom, so a reading by it is a little less certain; by "$" alone, which Australia and
   Canada write too, or by a currency read unsurely, as uncertain as the currency is);
3. else day first, a guess: such a date is not given as a value at the default threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl"]
MONTH_FIRST_CURRENCIES = {"USD"}
BY_CURRENCY = 0.9  # an ambiguous date read by the currency's custom (rule 2)
UNSURE = 0.6  # read by rule 3: a guess
MIN_CURRENCY_CONFIDENCE = 0.6  # a currency read less surely says as little of the order
EARLIEST_YEAR = 1990

# Day, month and year in numbers: 11/03/2017, 11.03.17, 2017-03-11.
_NUMERIC = re.compile(r"(?<![\d/.-])(\d{1,4})([./-])(\d{1,2})\2(\d{2,4})(?![\d/.-])")
# A month named: 3 August 2014, August 3, 2014, 29 maart 2014, 1. März 2024, 15 października.
_NAMED = re.compile(
    r"(?<!\w)(?:\d{1,2}\.?\s*(?:de\s+)?[^\W\d_]{3,12}\.?,?\s*(?:de\s+)?\d{4}"
    r"|[^\W\d_]{3,12}\.?\s+\d{1,2}(?:st|nd|rd|th)?\s*,?\s*\d{4})(?!\w)"
)


@dataclass(frozen=True)
class FoundDate:
    iso: str
    start: int
    end: int
    certainty: float  # 1.0 but for a day and month that could be swapped (see the rules)


def dates_in(line: str, order: tuple[bool, float] = (False, UNSURE)) -> list[FoundDate]:
    """Every date on ``line``; ``order`` is the document's ``(month_first, certainty)`` for
    its ambiguous numeric dates (:func:`numeric_order`)."""
    found = []
    for match in _NUMERIC.finditer(line):
        reading = _numeric(match, *order)
        if reading is not None:
            found.append(FoundDate(reading[0], match.start(), match.end(), reading[1]))
    for match in _NAMED.finditer(line):
        iso = _named(match.group())
        if iso is not None:
            found.append(FoundDate(iso, match.start(), match.end(), certainty=1.0))
    return sorted(found, key=lambda f: f.start)


# A date as OCR garbles it: "04. „04. 2020", "21,04,20".
_GARBLED = re.compile(
    r"(?<!\d)(\d{1,2})\s*[.,]\s*[„\"“”']?\s*(\d{1,2})\s*[.,]\s*(\d{4}|\d{2})(?!\d)"
)
#: A date read through OCR's noise is this much less certain.
GARBLED = 0.9


def garbled_dates_in(line: str) -> list[FoundDate]:
    """The dates OCR wrote with stray marks, spaces or commas in them (the caller asks only
    where a date label says a date is), read day first as dotted dates are."""
    found = []
    for match in _GARBLED.finditer(line):
        repaired = f"{match[1]}.{match[2]}.{match[3]}"
        for reading in dates_in(repaired):
            certainty = GARBLED * reading.certainty
            found.append(FoundDate(reading.iso, match.start(), match.end(), certainty))
    return found


def numeric_order(text: str, currency: tuple[str, float] | None) -> tuple[bool, float]:
    """``(month_first, certainty)`` for the document's numeric dates: rule 1, else 2, else 3.
    ``currency``: the document's, with the analyzer's confidence in it ("$" alone is unsure:
    a custom read from it is as unsure)."""
    orders = set()
    for match in _NUMERIC.finditer(text):
        first, second = int(match[1]), int(match[3])
        if len(match[1]) == 4:
            continue  # year first: never ambiguous
        if first > 12 >= second:
            orders.add(False)
        elif second > 12 >= first:
            orders.add(True)
    if len(orders) == 1:
        return orders.pop(), 1.0
    if currency is not None:
        code, confidence = currency
        if code not in MONTH_FIRST_CURRENCIES and confidence >= MIN_CURRENCY_CONFIDENCE:
            return False, BY_CURRENCY  # the euro's, the pound's…: countries writing day first
        # "$" alone could be another country's dollar; a currency hardly read, another one.
        month_first = code in MONTH_FIRST_CURRENCIES
        return month_first, max(UNSURE, min(BY_CURRENCY, confidence + 0.1))
    return False, UNSURE


def _numeric(match: re.Match[str], month_first: bool, certainty: float) -> tuple[str, float] | None:
    a, b, year_text = match[1], match[3], match[4]
    if len(a) == 4:  # 2017-03-11
        iso = _iso(int(a), int(b), int(year_text))
        return (iso, 1.0) if iso else None
    if len(year_text) == 3:
        return None
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    first, second = int(a), int(b)
    if first > 12 or second > 12 or first == second:  # only one reading
        month, day = (second, first) if first > 12 else (first, second)
        iso = _iso(year, month, day)
        return (iso, 1.0) if iso else None
    if match[2] == ".":
        month_first, certainty = False, 1.0
    month, day = (first, second) if month_first else (second, first)
    reading = _iso(year, month, day)
    return (reading, certainty) if reading else None


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    return found.isoformat() if found.year >= EARLIEST_YEAR else None


def _named(text: str) -> str | None:
    import dateparser  # here: ~0.15 s, paid by the first document with a month in words

    parsed = dateparser.parse(
        text,
        languages=LANGUAGES,
        settings={"REQUIRE_PARTS": ["day", "month", "year"], "PREFER_DAY_OF_MONTH": "first"},
    )
    if parsed is None or parsed.year < EARLIEST_YEAR:
        return None
    return parsed.date().isoformat()
