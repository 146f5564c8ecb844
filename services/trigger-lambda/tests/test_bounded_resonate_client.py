"""A front door's Resonate client gives up within its budget and never acts later."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
from docflow_shared.resonate_client import BoundedHttpConnection, sender_client
from docflow_shared.settings import ResonateSettings, forget_settings
from docflow_shared.workflow import WORKFLOW_NAME
from docflow_testing.processes import free_port, resonate_server
from docflow_testing.protocol import call
from docflow_trigger.dal.workflows import StartedWorkflow, start_workflow
from resonate.types import PromiseRecord
from resonate_base.error import ConnectorError

pytestmark = pytest.mark.integration

BUDGET = 0.5


def settings_for(url: str) -> ResonateSettings:
    return ResonateSettings(RESONATE_URL=url, DOCFLOW_RESONATE_TIMEOUT=BUDGET)  # type: ignore[call-arg]


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


def test_the_trigger_starts_a_workflow_as_the_sdks_rpc_does_plus_docflows_tags(
    resonate_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trigger creates the root promise itself (``rpc`` cannot add tags): what it creates
    must be what ``rpc`` creates, or the workers would not run it the same way."""
    monkeypatch.setenv("RESONATE_URL", resonate_url)
    forget_settings()
    job = {"jobId": "same", "requesterId": "ada"}
    trace = {"correlationId": "req-1", "acceptedAt": 1}
    try:
        started = start_workflow("doc/ours", job, trace, timedelta(hours=1))
    finally:
        forget_settings()

    async def by_rpc() -> tuple[PromiseRecord, PromiseRecord]:
        client = sender_client(settings_for(resonate_url))
        rpc = client.options(target="workers", timeout=timedelta(hours=1))
        await rpc.rpc("doc/sdks", WORKFLOW_NAME, job, trace=trace).id()
        records = await client.promises.get("doc/sdks"), await client.promises.get("doc/ours")
        await client.stop()
        return records

    sdks, ours = asyncio.run(by_rpc())

    assert started == StartedWorkflow(job, trace)
    assert ours.param.data == sdks.param.data
    assert ours.state == sdks.state == "pending"
    lineage = {"resonate:origin", "resonate:branch", "resonate:parent"}
    assert {k: v for k, v in ours.tags.items() if k not in lineage} == {
        **{k: v for k, v in sdks.tags.items() if k not in lineage},
        "docflow:kind": "job",
        "docflow:correlationId": "req-1",
    }
    assert {ours.tags[k] for k in lineage} == {"doc/ours"}
    assert abs(ours.timeout_at - sdks.timeout_at) < 60_000
