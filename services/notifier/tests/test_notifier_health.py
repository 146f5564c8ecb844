"""The notifier's health follows its consumer: ok while it consumes, 503 once it has stopped on
an error it cannot ride out (here: the stream's key holds a string, so the consumer group cannot
be created)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from docflow_testing.processes import BIN, Process, free_port, valkey_server, wait_until
from docflow_testing.receiver import new_secret

pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    server, url = valkey_server(tmp_path_factory.mktemp("valkey"))
    yield int(url.rsplit(":", 1)[1].split("/")[0])
    server.kill9()


def notifier(store: int, folder: Path) -> tuple[Process, str]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{store}/0",
           "DOCFLOW_WEBHOOK_SECRET": new_secret()}  # fmt: skip
    process = Process([str(BIN / "docflow-notifier"), "--port", str(port)], folder / "notifier.log",
                      env=env).start()  # fmt: skip
    return process, f"http://127.0.0.1:{port}/health"


def health(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.TransportError:
        return None


def test_health_is_ok_while_the_consumer_runs_and_503_once_it_stopped(
    store: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    running, url = notifier(store, tmp_path_factory.mktemp("ok"))
    try:
        wait_until(lambda: health(url) == 200, 30, "a healthy notifier")
    finally:
        running.kill9()
    redis.Redis(port=store).set("docflow:notifications", "not a stream")

    broken, url = notifier(store, tmp_path_factory.mktemp("broken"))
    try:
        wait_until(lambda: health(url) == 503, 30, "the notifier to report its stopped consumer")
        answer = httpx.get(url, timeout=2).json()
    finally:
        broken.kill9()

    assert answer["status"] == "consumer stopped"
    assert "WRONGTYPE" in answer["error"]
