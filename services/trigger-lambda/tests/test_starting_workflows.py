"""The trigger starts a workflow as the SDK's ``rpc`` does (plus docflow's tags), with its own
small client (``docflow_shared.resonate_http``): the workers cannot tell the two apart, and a job
started either way is the same job to the other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from docflow_shared.settings import forget_settings
from docflow_shared.workflow import LATEST_WORKFLOW_VERSION, WORKFLOW_NAME, version_group
from docflow_testing.proxy import CountingProxy
from docflow_trigger.dal.workflows import StartedWorkflow, start_workflow
from resonate.resonate import Resonate
from resonate.types import PromiseRecord

pytestmark = pytest.mark.integration

JOB = {"jobId": "same", "requesterId": "ada"}
TRACE = {"correlationId": "req-1", "acceptedAt": 1}


@pytest.fixture(autouse=True)
def settings(resonate_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RESONATE_URL", resonate_url)
    forget_settings()
    yield
    forget_settings()


def by_sdk(
    url: str,
    promise_id: str,
    job: dict[str, str],
    trace: dict[str, object],
    *also: str,
    version: int = 1,
) -> list[PromiseRecord]:
    """``rpc`` the workflow (at ``version``, to its group) as the SDK does; then the records
    of ``promise_id`` and ``also``."""

    async def run() -> list[PromiseRecord]:
        client = Resonate(url=url, sources=[], subscription_refresh_secs=0)
        try:
            group = version_group("workers", version)
            rpc = client.options(target=group, timeout=timedelta(hours=1), version=version)
            await rpc.rpc(promise_id, WORKFLOW_NAME, job, trace=trace).id()
            return [await client.promises.get(p) for p in (promise_id, *also)]
        finally:
            await client.stop()

    return asyncio.run(run())


def test_the_trigger_starts_a_workflow_as_the_sdks_rpc_does_plus_docflows_tags(
    resonate_url: str,
) -> None:
    """The trigger creates the root promise itself (``rpc`` cannot add tags): what it creates
    must be what ``rpc`` creates, or the workers would not run it the same way."""
    started = start_workflow("doc/ours", JOB, TRACE, timedelta(hours=1))

    sdks, ours = by_sdk(resonate_url, "doc/sdks", JOB, TRACE, "doc/ours",
                        version=LATEST_WORKFLOW_VERSION)  # fmt: skip

    assert started == StartedWorkflow(JOB, TRACE)
    assert ours.param.data == sdks.param.data
    assert ours.state == sdks.state == "pending"
    lineage = {"resonate:origin", "resonate:branch", "resonate:parent"}
    assert {k: v for k, v in ours.tags.items() if k not in lineage} == {
        **{k: v for k, v in sdks.tags.items() if k not in lineage},
        "docflow:kind": "job",
        "docflow:correlationId": "req-1",
        "docflow:requester": JOB["requesterId"],
        "docflow:version": str(LATEST_WORKFLOW_VERSION),
    }
    assert {ours.tags[k] for k in lineage} == {"doc/ours"}
    assert abs(ours.timeout_at - sdks.timeout_at) < 60_000


def test_a_job_at_another_version_goes_to_that_versions_group_as_the_sdk_sends_it(
    resonate_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCFLOW_WORKFLOW_VERSION", "3")  # a trigger deployed ahead
    forget_settings()
    start_workflow("doc/ours-v3", JOB, TRACE, timedelta(hours=1))

    sdks, ours = by_sdk(resonate_url, "doc/sdks-v3", JOB, TRACE, "doc/ours-v3", version=3)

    assert ours.param.data == sdks.param.data
    assert ours.tags["resonate:target"] == sdks.tags["resonate:target"] == "poll://any@workers-v3"
    assert ours.tags["docflow:version"] == "3"


def test_a_job_the_sdk_started_is_the_one_the_trigger_finds(resonate_url: str) -> None:
    first_trace = {"correlationId": "sdk-first", "acceptedAt": 1}
    by_sdk(resonate_url, "doc/both", JOB, first_trace)

    again = start_workflow("doc/both", JOB, TRACE, timedelta(hours=1))

    assert again == StartedWorkflow(JOB, first_trace), "deduplicated: the first one stays"


def test_a_job_the_trigger_started_is_the_one_the_sdk_finds(resonate_url: str) -> None:
    start_workflow("doc/both-2", JOB, TRACE, timedelta(hours=1))

    (sdks,) = by_sdk(resonate_url, "doc/both-2", {"jobId": "other"}, {"correlationId": "x"})

    assert sdks.param.data["args"] == [JOB]
    assert sdks.param.data["kwargs"] == {"trace": TRACE}


def test_one_connection_serves_invocations_20_seconds_apart(
    resonate_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm container invoked less often than every 15 s (aiohttp's keep-alive, with the SDK)
    still reuses its connection to Resonate: no new TCP (or TLS) handshake per request."""
    proxy = CountingProxy(int(resonate_url.rsplit(":", 1)[1]))
    monkeypatch.setenv("RESONATE_URL", proxy.url)
    forget_settings()

    start_workflow("doc/warm-1", JOB, TRACE, timedelta(hours=1))
    time.sleep(20)
    start_workflow("doc/warm-2", JOB, TRACE, timedelta(hours=1))

    assert proxy.accepted == 1
