"""Starting workflows on Resonate and writing to them. The container's one client lives here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from docflow_shared.resonate_client import LambdaResonate
from docflow_shared.settings import TriggerSettings
from docflow_shared.workflow import (
    CORRELATION_TAG,
    JOB_KIND,
    KIND_TAG,
    TRACE_ARGUMENT,
    WORKFLOW_NAME,
)
from docflow_shared.workflow_records import WorkflowRecords, read_workflow
from resonate.resonate import Resonate, default_resolve_target
from resonate.types import PromiseRecord, TaskData, Value

resonate = LambdaResonate(TriggerSettings.current)


@dataclass(frozen=True)
class StartedWorkflow:
    """What the root promise holds: the job and trace it was *first* started with."""

    job: Any
    trace: Any


def start_workflow(
    workflow_id: str, job: dict[str, Any], trace: dict[str, Any], lifetime: timedelta
) -> StartedWorkflow:
    """Start ``process_document(job, trace=trace)`` on the worker group, unless it exists.

    Creating an existing promise id changes nothing and returns the existing record, so this is
    safe to repeat, and what comes back is the job another request may have started first.
    ``lifetime`` is the root promise's timeout: past it the server ends the workflow, worker or
    not. The request is the one the SDK's ``rpc`` sends (never ``run``, which would execute the
    workflow here, in the Lambda), plus docflow's tags, which ``rpc`` cannot add.
    """
    group = TriggerSettings.current().worker_group
    tags = {
        # A root is its own origin, branch and parent; the target routes it to a worker.
        "resonate:origin": workflow_id,
        "resonate:branch": workflow_id,
        "resonate:parent": workflow_id,
        "resonate:scope": "global",
        "resonate:target": default_resolve_target(group),
        **_job_tags(trace),
    }

    async def start(client: Resonate) -> StartedWorkflow:
        return _started(await _create_root(client, workflow_id, job, trace, lifetime, tags))

    return resonate.call(start)


def record_failed_workflow(
    workflow_id: str,
    job: dict[str, Any],
    trace: dict[str, Any],
    lifetime: timedelta,
    error: Exception,
) -> StartedWorkflow:
    """Record a job that cannot start as failed with ``error``: a root promise like
    ``start_workflow``'s (so the job is listed and has a status) but routed to no worker, and
    rejected at once. Safe to repeat; a root that a worker runs is never touched."""

    async def record(client: Resonate) -> StartedWorkflow:
        root = await _create_root(client, workflow_id, job, trace, lifetime, _job_tags(trace))
        if root.state == "pending" and "resonate:target" not in root.tags:
            await client.promises.reject(workflow_id, Value(data=error))
        return _started(root)

    return resonate.call(record)


def _job_tags(trace: dict[str, Any]) -> dict[str, str]:
    return {KIND_TAG: JOB_KIND, CORRELATION_TAG: trace["correlationId"]}


async def _create_root(
    client: Resonate,
    workflow_id: str,
    job: dict[str, Any],
    trace: dict[str, Any],
    lifetime: timedelta,
    tags: dict[str, str],
) -> PromiseRecord:
    call = TaskData(func=WORKFLOW_NAME, args=(job,), kwargs={TRACE_ARGUMENT: trace})
    timeout_at = int(time.time() * 1000 + lifetime.total_seconds() * 1000)
    return await client.promises.create(workflow_id, timeout_at, Value(data=call), tags)


def _started(root: PromiseRecord) -> StartedWorkflow:
    data = root.param.data if isinstance(root.param.data, dict) else {}
    args, kwargs = data.get("args") or [None], data.get("kwargs") or {}
    return StartedWorkflow(args[0], kwargs.get(TRACE_ARGUMENT))


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
