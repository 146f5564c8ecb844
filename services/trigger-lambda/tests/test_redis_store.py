"""What the trigger keeps in Redis, against a real valkey: fair use's counters (the start rate by
GCRA, the jobs in flight until their deadline, both per requester, on the server's clock, and the
count set right from the store at the limit) and the decisions' audit events on the notification
stream, once each."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from docflow_shared.errors import JobNotFound, TooManyRequests
from docflow_shared.settings import forget_settings
from docflow_shared.workflow import NOTIFICATION_STREAM
from docflow_testing.processes import free_port, valkey_server
from docflow_trigger.dal import redis_store
from docflow_trigger.dal.redis_store import Admission
from docflow_trigger.logic.fair_use import admit_start

pytestmark = pytest.mark.integration

FAR = 2**42  # a deadline far ahead (epoch ms)


def use_redis(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    forget_settings()
    redis_store._redis.cache_clear()


@pytest.fixture(scope="module")
def valkey_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server, url = valkey_server(Path(tmp_path_factory.mktemp("valkey")))
    yield url
    server.kill9()


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, valkey_url: str) -> Iterator[redis.Redis]:
    use_redis(monkeypatch, valkey_url)
    client = redis.Redis.from_url(valkey_url, decode_responses=True)
    client.flushall()
    yield client
    forget_settings()
    redis_store._redis.cache_clear()


def rate(requester: str, per_minute: int, burst: int) -> int:
    """One start's wait under the start rate alone (ms; 0: admitted)."""
    admission = redis_store.admit(requester, f"job-{time.monotonic_ns()}", per_minute=per_minute,
                                  burst=burst, max_in_flight=0, deadline_ms=FAR)  # fmt: skip
    assert admission is not None
    return admission.wait_ms


def test_a_burst_is_admitted_then_starts_wait_their_interval_per_requester(
    store: redis.Redis,
) -> None:
    admitted = [rate("alice", 60, 3) for _ in range(3)]
    wait = rate("alice", 60, 3)
    others = rate("bob", 60, 3)

    assert admitted == [0, 0, 0]
    assert 0 < wait <= 1000  # one start a second: the next is due within a second
    assert others == 0
    time.sleep(wait / 1000 + 0.05)
    assert rate("alice", 60, 3) == 0
    assert rate("alice", 60, 3)  # and the one after waits again


def test_a_refused_start_takes_no_slot(store: redis.Redis) -> None:
    assert rate("alice", 60, 1) == 0
    first_wait, second_wait = rate("alice", 60, 1), rate("alice", 60, 1)

    assert 0 < second_wait <= first_wait <= 1000  # not pushed a second further by the refusal


def in_flight(requester: str, job_id: str, deadline_ms: int = FAR) -> Admission:
    admission = redis_store.admit(requester, job_id, per_minute=0, burst=1, max_in_flight=2,
                                  deadline_ms=deadline_ms)  # fmt: skip
    assert admission is not None
    return admission


def test_jobs_in_flight_are_counted_per_requester_until_their_deadline(
    store: redis.Redis,
) -> None:
    now_ms = int(time.time() * 1000)
    first, second = in_flight("alice", "a-1"), in_flight("alice", "a-2", now_ms + 300)
    third = in_flight("alice", "a-3")
    again = in_flight("alice", "a-1")  # sent again: already counted
    bobs = in_flight("bob", "b-1")
    time.sleep(0.4)  # a-2's deadline passes: it has ended
    after = in_flight("alice", "a-3")

    assert [(a.admitted, a.in_flight) for a in (first, second, third, again, bobs, after)] == [
        (True, 1), (True, 2), (False, 2), (True, 2), (True, 1), (True, 2)]  # fmt: skip


@dataclass
class PendingJobs:
    """A store that knows which of a requester's jobs are still pending (Resonate's search)."""

    pending: dict[str, int]

    def jobs_in_flight(self, requester_id: str, up_to: int) -> dict[str, int]:
        return dict(list(self.pending.items())[:up_to])

    def workflow_records(self, workflow_id: str) -> Any:
        raise JobNotFound(workflow_id)


def test_at_the_limit_the_count_is_set_right_from_the_store_before_a_refusal(
    store: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCFLOW_MAX_JOBS_IN_FLIGHT", "2")
    monkeypatch.setenv("DOCFLOW_STARTS_PER_MINUTE", "0")
    forget_settings()
    truth = PendingJobs({"a-1": FAR, "a-2": FAR})
    for job_id in ("a-1", "a-2"):
        admit_start(job_id, "alice", FAR, truth)

    with pytest.raises(TooManyRequests, match="alice has 2 jobs in flight"):
        admit_start("a-3", "alice", FAR, truth)
    del truth.pending["a-1"]  # it ended: the count in Redis does not know yet
    admit_start("a-3", "alice", FAR, truth)

    assert store.zrange("docflow:in-flight:alice", 0, -1) == ["a-2", "a-3"]


def test_an_audit_event_is_appended_once_per_decision(store: redis.Redis) -> None:
    event = {"type": "audit.approved", "jobId": "inv-1", "audit": {"by": "rita"}}

    assert redis_store.append_audit_event("docflow:audited:doc/inv-1:4", event)
    assert redis_store.append_audit_event("docflow:audited:doc/inv-1:4", event | {"again": 1})

    entries = store.xrange(NOTIFICATION_STREAM)
    assert [json.loads(fields["event"]) for _, fields in entries] == [event]


def test_without_a_redis_answering_starts_are_not_limited_and_nothing_is_appended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_redis(monkeypatch, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        assert redis_store.admit("alice", "a-1", per_minute=60, burst=1, max_in_flight=2,
                                 deadline_ms=FAR) is None  # fmt: skip
        assert redis_store.append_audit_event("docflow:audited:x", {"type": "t"}) is False
    finally:
        forget_settings()
        redis_store._redis.cache_clear()
