"""What the trigger keeps in Redis, against a real valkey: the start rate (GCRA, per requester,
on the server's clock) and the decisions' audit events on the notification stream, once each."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from docflow_shared.settings import forget_settings
from docflow_shared.workflow import NOTIFICATION_STREAM
from docflow_testing.processes import free_port, valkey_server
from docflow_trigger.dal import redis_store

pytestmark = pytest.mark.integration


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


def test_a_burst_is_admitted_then_starts_wait_their_interval_per_requester(
    store: redis.Redis,
) -> None:
    admitted = [redis_store.start_slot_wait_ms("alice", 60, 3) for _ in range(3)]
    wait = redis_store.start_slot_wait_ms("alice", 60, 3)
    others = redis_store.start_slot_wait_ms("bob", 60, 3)

    assert admitted == [0, 0, 0]
    assert wait is not None
    assert 0 < wait <= 1000  # one start a second: the next is due within a second
    assert others == 0
    time.sleep(wait / 1000 + 0.05)
    assert redis_store.start_slot_wait_ms("alice", 60, 3) == 0
    assert redis_store.start_slot_wait_ms("alice", 60, 3)  # and the one after waits again


def test_a_refused_start_takes_no_slot(store: redis.Redis) -> None:
    assert redis_store.start_slot_wait_ms("alice", 60, 1) == 0
    first_wait = redis_store.start_slot_wait_ms("alice", 60, 1)
    second_wait = redis_store.start_slot_wait_ms("alice", 60, 1)

    assert first_wait is not None
    assert second_wait is not None
    assert 0 < second_wait <= first_wait <= 1000  # not pushed a second further by the refusal


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
        assert redis_store.start_slot_wait_ms("alice", 60, 1) is None
        assert redis_store.append_audit_event("docflow:audited:x", {"type": "t"}) is False
    finally:
        forget_settings()
        redis_store._redis.cache_clear()
