"""Step 4 of workflow version 2: cross-check the analysis's fields before they are stored.

A field that is there but cannot be right is flagged, not dropped: the result carries each
check (``checks``), so whoever reads it knows which values to trust. Only fields the analyzer
found are checked; a missing one is the analyzer's to report. The step also decides whether a
person must review the job (``needs_review``): recorded here, the decision survives a change of
settings under a job in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from docflow_shared.models import Analysis

from ..domain import FieldCheck, Job, Verification
from .review import approval_required

# A document dated a day after it was received is a time zone, not an error.
DATE_SLACK = timedelta(days=1)
EARLIEST = date(1900, 1, 1)


def verify(job: Job, analysis: Analysis) -> Verification:
    received = datetime.fromtimestamp((job.accepted_at or job.deadline_at) / 1000, UTC).date()
    problem_of: dict[str, Callable[[str], str | None]] = {
        "total": _amount_problem,
        "date": lambda value: _date_problem(value, received),
        "currency": _currency_problem,
    }
    checks = []
    for name, check in problem_of.items():
        found = analysis.fields.get(name)
        if found is not None and found.value is not None:  # an unsure field has no value
            problem = check(found.value) if isinstance(found.value, str) else "not one value"
            checks.append(FieldCheck(field=name, passed=problem is None, problem=problem))
    return Verification(checks=checks, needs_review=approval_required(job, analysis))


def _amount_problem(value: str) -> str | None:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return f"{value!r} is not an amount"
    return None if amount.is_finite() and amount > 0 else f"{value} is not a positive amount"


def _date_problem(value: str, received: date) -> str | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not a date"
    if day > received + DATE_SLACK:
        return f"{day} is after the document was received ({received})"
    return None if day >= EARLIEST else f"{day} is before {EARLIEST}"


def _currency_problem(value: str) -> str | None:
    # ISO 4217 codes are three capital letters; a symbol the analyzer could not map is not one.
    return None if len(value) == 3 and value.isascii() and value.isupper() else (
        f"{value!r} is not an ISO 4217 currency code")  # fmt: skip
