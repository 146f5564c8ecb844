"""Starting workflows on Resonate and writing to them. The container's one client lives here."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from docflow_shared.resonate_client import LambdaResonate
from docflow_shared.settings import get_settings
from docflow_shared.workflow import WORKFLOW_NAME
from docflow_shared.workflow_records import WorkflowRecords, read_workflow
from resonate.resonate import Resonate
from resonate.types import PromiseRecord, Value

resonate = LambdaResonate()


def start_workflow(workflow_id: str, job: dict[str, Any], lifetime: timedelta) -> Any:
    """Start ``process_document(job)`` on the worker group as ``workflow_id``, unless it exists.

    Creating an existing promise id changes nothing and returns the existing record, so this is
    safe to repeat. Returns the job the workflow was *actually* started with (its root promise's
    argument), which differs from ``job`` when another request got there first. ``lifetime`` is
    the root promise's timeout: past it the server ends the workflow, worker or not.
    """
    group = get_settings().worker_group

    async def start(client: Resonate) -> Any:
        # rpc, never run: run would execute the workflow here, inside the Lambda.
        handle = client.options(target=group, timeout=lifetime).rpc(workflow_id, WORKFLOW_NAME, job)
        # The promise exists (created now or before). Shielded: when the budget runs out, the
        # SDK's own future is left to settle instead of being cancelled under it, and its late
        # error is collected here (else asyncio logs "exception was never retrieved").
        created = asyncio.ensure_future(handle.id())
        created.add_done_callback(lambda task: task.cancelled() or task.exception())
        await asyncio.shield(created)
        record = await client.promises.get(workflow_id)
        args = record.param.data.get("args", []) if isinstance(record.param.data, dict) else []
        return args[0] if args else None

    return resonate.call(start)


def workflow_records(workflow_id: str) -> WorkflowRecords:
    """The root promise and its children (``JobNotFound`` if there is no root)."""
    return resonate.call(lambda client: read_workflow(client, workflow_id))


def resolve(promise_id: str, value: dict[str, Any]) -> PromiseRecord:
    """Resolve a pending promise with ``value``; a settled one comes back unchanged."""

    async def settle(client: Resonate) -> PromiseRecord:
        return await client.promises.resolve(promise_id, Value(data=value))

    return resonate.call(settle)


def raise_signal(promise_id: str, timeout_at: int, value: dict[str, Any]) -> PromiseRecord:
    """Create the promise ``promise_id`` (once) and resolve it with ``value``."""

    async def signal(client: Resonate) -> PromiseRecord:
        await client.promises.create(promise_id, timeout_at, Value(data=None), {})
        return await client.promises.resolve(promise_id, Value(data=value))

    return resonate.call(signal)
