"""Amounts and currencies as documents print them, in any common notation.

An amount is found by its shape (digits, thousands groups, a decimal part), read by
``price_parser`` (``1.234,56``, ``1 234,56``, ``1'234.56``, ``1,234.56``), and given the currency
sign printed next to it: an ISO 4217 code, or a symbol from CLDR's tables (``babel``) for the
locales docflow meets (``zł`` PLN, ``RM`` MYR, ``kr`` SEK or NOK: ambiguous). A space groups
thousands before a decimal comma (``1 278,61``) or right after a currency sign
(``€20 693.41``); else ``1 278.61`` is a quantity and a price.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.numbers import get_currency_symbol, get_territory_currencies
from price_parser import Price

#: Where docflow's documents come from; their symbols for every currency make the table.
LOCALES = ["en_US", "en_GB", "en_AU", "en_CA", "en_IN", "en_MY", "en_SG", "de_DE", "de_CH",
           "de_AT", "fr_FR", "fr_CH", "es_ES", "it_IT", "nl_NL", "pl_PL", "sv_SE", "da_DK",
           "nb_NO", "ms_MY", "cs_CZ", "hu_HU", "ja_JP"]  # fmt: skip
#: Signs CLDR does not list for these locales but documents print.
EXTRA_SIGNS = {"Fr.": {"CHF"}, "SFr.": {"CHF"}, "S$": {"SGD"}, "€uro": {"EUR"}, "Euro": {"EUR"},
               "EURO": {"EUR"}, "Zł": {"PLN"}, "ZŁ": {"PLN"}, "PLN": {"PLN"}}  # fmt: skip

_NUMBER = r"\d+(?:[.,']\d{3})*(?:[.,]\d{1,2})?"
# A number standing alone: not part of a word, a date (12.03.2024), a percentage or a longer number.
_ALONE = re.compile(rf"(?<![\w.,'/:-])-?{_NUMBER}(?![\w%/]|[.,']?\d|\s?%)")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currencies: frozenset[str]  # ISO codes the sign next to it may mean (none: no sign)
    start: int  # where the amount (with its sign) is on the line
    end: int

    @property
    def currency(self) -> str | None:
        """The one currency its sign means, if it means only one."""
        return next(iter(self.currencies)) if len(self.currencies) == 1 else None


@cache
def _in_use() -> list[str]:
    """The currencies some country pays in today (CLDR), not those it once did: the franc's
    sign "F" would read a letter before a number as French money."""
    today = datetime.date.today()
    countries = [t for t in map(str, Locale("en").territories) if len(t) == 2 and t.isalpha()]
    return sorted({code for country in countries
                   for code in get_territory_currencies(country, today, tender=True)})  # fmt: skip


@cache
def _signs() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {code: {code} for code in _in_use()}
    for locale in LOCALES:
        for code in _in_use():
            sign = get_currency_symbol(code, locale)
            if sign != code and not sign.isdigit():
                table.setdefault(sign, set()).add(code)
    for sign, codes in EXTRA_SIGNS.items():
        table.setdefault(sign, set()).update(codes)
    return {sign: frozenset(codes) for sign, codes in table.items()}


@cache
def _sign_alternatives() -> str:
    signs = sorted(_signs(), key=len, reverse=True)  # the longest first: "A$" before "$"
    return "|".join(
        # A code or a word-like sign is a word of its own; a symbol may touch the number.
        rf"\b{re.escape(s)}\b" if s[-1].isalpha() and s[0].isalpha() else re.escape(s)
        for s in signs
    )


@cache
def _sign_pattern() -> re.Pattern[str]:
    return re.compile(_sign_alternatives())


@cache
def _sign_just_before() -> re.Pattern[str]:
    return re.compile(rf"(?:{_sign_alternatives()})\s?$")


def currencies_of(sign: str) -> frozenset[str]:
    return _signs().get(sign.strip(), frozenset())


def amounts_in(line: str) -> list[Money]:
    """Every amount on ``line``, left to right, each with the currency sign printed beside it."""
    found: list[Money] = []
    for start, end, text in _numbers(line):
        amount = Price.fromstring(text).amount
        if amount is None:
            continue
        if text.startswith("-"):  # a refund's total; the parser reads the digits only
            amount = -abs(amount)
        sign, start, end = _sign_beside(line, start, end)
        found.append(Money(amount, currencies_of(sign) if sign else frozenset(), start, end))
    return found


def _numbers(line: str) -> list[tuple[int, int, str]]:
    """The numbers on the line; "1 234,56" joined across its spaces (thousands groups before a
    decimal comma), "1 278.61" not."""
    spans = [(m.start(), m.end()) for m in _ALONE.finditer(line)]
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and _groups_thousands(line, merged[-1], (start, end)):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return [(s, e, line[s:e].replace("\u00a0", " ").replace("\u202f", " ")) for s, e in merged]


def _groups_thousands(line: str, before: tuple[int, int], after: tuple[int, int]) -> bool:
    """Whether a space joins two numbers into one: before a decimal comma (``1 234,56``), or
    with a decimal point when a currency sign is written right before it (``€20 693.41``)."""
    gap, left, right = line[before[1] : after[0]], line[slice(*before)], line[slice(*after)]
    if gap not in (" ", "\u00a0", "\u202f"):
        return False
    if re.fullmatch(r"-?\d{1,3}(?: \d{3})*", left.replace("\u00a0", " ")) is None:
        return False
    if re.fullmatch(r"\d{3}(?:,\d{1,2})?", right):
        return True
    signed = _sign_just_before().search(line[max(0, before[0] - 8) : before[0]]) is not None
    return signed and re.fullmatch(r"\d{3}\.\d{1,2}", right) is not None


def _sign_beside(line: str, start: int, end: int) -> tuple[str | None, int, int]:
    pattern = _sign_pattern()
    before = list(pattern.finditer(line[max(0, start - 6) : start]))
    if before and not line[max(0, start - 6) + before[-1].end() : start].strip():
        sign = before[-1]
        return sign.group(), max(0, start - 6) + sign.start(), end
    after = pattern.match(line, end + (1 if line[end : end + 1] == " " else 0))
    if after and not re.match(r"\s?\d", line[after.end() :]):  # not the next amount's sign
        return after.group(), start, after.end()
    return None, start, end


def signs_in(line: str) -> list[frozenset[str]]:
    """Each currency sign or code on ``line``, an amount beside it or not, as the codes it
    means."""
    return [currencies_of(match.group()) for match in _sign_pattern().finditer(line)]
