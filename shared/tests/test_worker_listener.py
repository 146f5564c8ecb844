"""A worker keeps receiving tasks however long it has been connected.

The SDK's task listener is one long request, opened with aiohttp's default session timeout (5
minutes in total); when that ends it, the SDK does not reconnect, and the worker silently stops
receiving tasks. Here aiohttp's default is cut to 2 s, so a worker older than that shows it.
"""

from __future__ import annotations

import asyncio
import os

import aiohttp
import aiohttp.client
import pytest
from docflow_shared.resonate_client import worker_client
from docflow_shared.settings import WorkerSettings
from resonate.context import Context
from resonate.resonate import Resonate

pytestmark = pytest.mark.integration

DEFAULT_TIMEOUT_SECONDS = 2.0


async def double(_ctx: Context, value: int) -> int:
    return value * 2


def settings_for(url: str) -> WorkerSettings:
    environment = {**os.environ, "RESONATE_URL": url, "DOCFLOW_WORKER_GROUP": "listeners"}
    return WorkerSettings.model_validate(environment)


def test_a_worker_older_than_aiohttps_default_timeout_still_gets_tasks(
    resonate_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shortened = aiohttp.ClientTimeout(total=DEFAULT_TIMEOUT_SECONDS, sock_connect=30)
    monkeypatch.setattr(aiohttp.client, "DEFAULT_TIMEOUT", shortened)
    settings = settings_for(resonate_url)

    async def scenario() -> tuple[str, object]:
        worker = worker_client(settings)
        worker.register(double, name="double")
        await asyncio.sleep(DEFAULT_TIMEOUT_SECONDS * 2)  # the listener outlives the default
        sender = Resonate(url=resonate_url, sources=[], subscription_refresh_secs=0)
        await sender.options(target="listeners").rpc("listener/late", "double", 21).id()
        record = await sender.promises.get("listener/late")
        for _ in range(100):  # up to 10 s
            record = await sender.promises.get("listener/late")
            if record.state != "pending":
                break
            await asyncio.sleep(0.1)
        await sender.stop()
        await worker.stop()
        return record.state, record.value.data

    assert asyncio.run(scenario()) == ("resolved", 42)
