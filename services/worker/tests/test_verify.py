"""The verify step (workflow version 2): each field the analyzer found, cross-checked; and the
decision whether a person reviews the job, recorded with it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from docflow_shared.models import Analysis, ExtractedField
from docflow_shared.settings import forget_settings
from docflow_worker.domain import Job
from docflow_worker.steps.verify import verify

pytestmark = pytest.mark.unit

RECEIVED = int(datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "RESONATE_URL": "http://127.0.0.1:9",
        "REDIS_URL": "redis://127.0.0.1:9",
        "DOCFLOW_BUCKET": "b",
        "DOCFLOW_APPROVAL_INVOICE_OVER": "1000",
    }.items():
        monkeypatch.setenv(name, value)  # fmt: skip
    forget_settings()
    yield
    forget_settings()


def job(require_approval: bool = False) -> Job:
    return Job.model_validate({"jobId": "j-1", "documentUrl": "http://127.0.0.1/a.pdf",
                               "requesterId": "alice", "requireApproval": require_approval,
                               "acceptedAt": RECEIVED, "deadlineAt": 2**42})  # fmt: skip


def analysis(kind: str = "invoice", **values: str | list[str]) -> Analysis:
    fields = {name: ExtractedField(value=value, evidence=f"{name}: {value}", page=1)
              for name, value in values.items()}  # fmt: skip
    return Analysis(document_type=kind, fields=fields, summary="", analyzer="heuristic")


def problems(found: Analysis) -> dict[str, str | None]:
    return {check.field: check.problem for check in verify(job(), found).checks}


def test_fields_that_can_be_right_pass() -> None:
    found = analysis(total="1230.50", date="2026-11-30", currency="EUR", vendor="ACME")

    assert problems(found) == {"total": None, "date": None, "currency": None}


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("total", "-3.00", "-3.00 is not a positive amount"),
        ("total", "0", "0 is not a positive amount"),
        ("total", "1 278.61", "'1 278.61' is not an amount"),
        ("total", "NaN", "NaN is not a positive amount"),
        ("date", "2026-12-02", "2026-12-02 is after the document was received (2026-11-30)"),
        ("date", "1066-10-14", "1066-10-14 is before 1900-01-01"),
        ("date", "2026-02-30", "'2026-02-30' is not a date"),
        ("currency", "GST", None),  # three capitals: only the analyzer can tell GST from a code
        ("currency", "€", "'€' is not an ISO 4217 currency code"),
        ("currency", "eur", "'eur' is not an ISO 4217 currency code"),
    ],
)
def test_a_field_that_cannot_be_right_is_flagged_with_why(
    field: str, value: str, problem: str | None
) -> None:
    assert problems(analysis(**{field: value})) == {field: problem}


def test_a_date_a_day_ahead_is_a_time_zone_not_a_problem() -> None:
    assert problems(analysis(date="2026-12-01")) == {"date": None}


def test_a_field_with_several_values_is_not_one_value() -> None:
    assert problems(analysis(total=["1.00", "2.00"])) == {"total": "not one value"}


def test_whether_a_person_reviews_the_job_is_decided_and_recorded_here() -> None:
    assert verify(job(require_approval=True), analysis()).needs_review
    assert verify(job(), analysis(total="1230.50")).needs_review, "over the approval limit"
    assert not verify(job(), analysis(total="999.00")).needs_review
    assert not verify(job(), analysis("receipt", total="1230.50")).needs_review, "invoices only"
