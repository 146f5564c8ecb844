"""A front door's Resonate client gives up within its budget and never acts later."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from docflow_shared.resonate_client import BoundedHttpConnection, sender_client
from docflow_shared.settings import Settings
from resonate_base.error import ConnectorError

from tests.support.processes import free_port, resonate_server
from tests.support.protocol import call

pytestmark = pytest.mark.integration

BUDGET = 0.5


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, RESONATE_URL=url, DOCFLOW_RESONATE_TIMEOUT=BUDGET)  # type: ignore[call-arg]


def test_a_request_to_a_closed_port_fails_within_the_budget() -> None:
    connection = BoundedHttpConnection(f"http://127.0.0.1:{free_port()}", BUDGET)

    async def attempt() -> float:
        started = time.monotonic()
        with pytest.raises(ConnectorError, match="did not answer"):
            await connection.send("{}")
        await connection.stop()
        return time.monotonic() - started

    assert asyncio.run(attempt()) < BUDGET + 0.5


def test_a_server_that_accepts_but_never_answers_fails_within_the_budget() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        connection = BoundedHttpConnection(f"http://127.0.0.1:{silent.getsockname()[1]}", BUDGET)

        async def attempt() -> float:
            started = time.monotonic()
            with pytest.raises(ConnectorError):
                await connection.send("{}")
            await connection.stop()
            return time.monotonic() - started

        assert asyncio.run(attempt()) < BUDGET + 0.5


def test_a_workflow_refused_while_resonate_was_down_is_not_created_once_it_is_back(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    async def start_while_down() -> None:
        client = sender_client(settings_for(url))
        handle = client.options(target="workers").rpc("doc/late", "process_document", {})
        with pytest.raises(ConnectorError):
            await handle.id()
        await client.stop()

    asyncio.run(start_while_down())
    server, url = resonate_server(str(tmp_path / "r.db"), tmp_path / "server.log", port)
    try:
        time.sleep(2 * BUDGET)
        status, _ = call(url, "promise.get", id="doc/late")
    finally:
        server.kill9()
    assert status == 404


def test_the_sender_client_starts_a_workflow_on_the_worker_group(resonate_url: str) -> None:
    async def start() -> dict[str, str]:
        client = sender_client(settings_for(resonate_url))
        handle = client.options(target="workers").rpc("doc/started", "process_document", {"a": 1})
        await handle.id()
        record = await client.promises.get("doc/started")
        await client.stop()
        return {"state": record.state, "target": record.tags["resonate:target"]}

    assert asyncio.run(start()) == {"state": "pending", "target": "poll://any@workers"}
