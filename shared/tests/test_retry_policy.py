"""The one retry policy: which answers are worth another attempt, and how long to wait."""

from __future__ import annotations

import pytest
from docflow_shared.retry import Backoff, is_transient, retry_after_seconds

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("status", "transient"), [
    (408, True), (429, True), (500, True), (502, True), (503, True), (599, True),
    (400, False), (401, False), (403, False), (404, False), (410, False), (422, False),
])  # fmt: skip
def test_timeouts_throttling_and_server_errors_are_transient_other_4xx_are_not(
    status: int, transient: bool
) -> None:
    assert is_transient(status) is transient


@pytest.mark.parametrize(("header", "seconds"), [
    ("7", 7.0), ("0.5", 0.5), ("-3", 0.0), (None, None), ("", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", None),
])  # fmt: skip
def test_retry_after_is_read_in_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def test_the_delay_doubles_per_attempt_up_to_its_cap() -> None:
    backoff = Backoff(first_seconds=1.0, max_seconds=5.0)

    assert [backoff.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_takes_off_at_most_its_share() -> None:
    backoff = Backoff(first_seconds=4.0, max_seconds=60.0, jitter=0.5)

    delays = [backoff.delay(1) for _ in range(200)]

    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 1


def test_a_servers_retry_after_replaces_the_delay_within_the_cap() -> None:
    backoff = Backoff(first_seconds=1.0, max_seconds=30.0)

    assert backoff.delay(1, retry_after=12.0) == 12.0
    assert backoff.delay(5, retry_after=0.0) == 0.0
    assert backoff.delay(1, retry_after=3600.0) == 30.0
