"""Starting workflows on Resonate and writing to them. The container's one client lives here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from docflow_shared.ids import job_id_of
from docflow_shared.resonate_http import ContainerClient, PromiseRecord, ResonateHttp, rejection
from docflow_shared.settings import TriggerSettings
from docflow_shared.workflow import (
    CORRELATION_TAG,
    JOB_KIND,
    KIND_TAG,
    REQUESTER_TAG,
    TRACE_ARGUMENT,
    VERSION_TAG,
    WORKFLOW_NAME,
    version_group,
)
from docflow_shared.workflow_records import WorkflowRecords, read_workflow

resonate = ContainerClient(TriggerSettings.current)


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
    settings = TriggerSettings.current()
    group = version_group(settings.worker_group, settings.workflow_version)
    target = settings.worker_url or worker_group_target(group)
    tags = {
        # A root is its own origin, branch and parent; the target routes it to a worker that
        # has its version, or to the worker function (which has them all).
        "resonate:origin": workflow_id,
        "resonate:branch": workflow_id,
        "resonate:parent": workflow_id,
        "resonate:scope": "global",
        "resonate:target": target,
        **_job_tags(job, trace),
    }
    with resonate.operation() as client:
        return _started(_create_root(client, workflow_id, job, trace, lifetime, tags))


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
    with resonate.operation() as client:
        root = _create_root(client, workflow_id, job, trace, lifetime, _job_tags(job, trace))
        if root.state == "pending" and "resonate:target" not in root.tags:
            client.settle(workflow_id, "rejected", rejection(error))
        return _started(root)


def worker_group_target(group: str) -> str:
    """Where the server delivers a workflow's task: any worker of ``group`` (the SDK's
    ``default_resolve_target``)."""
    return f"poll://any@{group}"


def _job_tags(job: dict[str, Any], trace: dict[str, Any]) -> dict[str, str]:
    return {KIND_TAG: JOB_KIND, CORRELATION_TAG: trace["correlationId"],
            REQUESTER_TAG: job["requesterId"],
            VERSION_TAG: str(TriggerSettings.current().workflow_version)}  # fmt: skip


def jobs_in_flight(requester_id: str, up_to: int) -> dict[str, int]:
    """The requester's jobs that have not ended (at most ``up_to``): job id → its root's
    timeout (epoch ms)."""
    found: dict[str, int] = {}
    cursor = None
    tags = {KIND_TAG: JOB_KIND, REQUESTER_TAG: requester_id}
    with resonate.operation() as client:
        while len(found) < up_to:
            page = client.search("pending", tags, min(up_to - len(found), 100), cursor)
            for root in page.promises:
                job_id = job_id_of(root.id)
                if job_id is not None:
                    found[job_id] = root.timeout_at
            cursor = page.cursor
            if not cursor:
                break
    return found


def _create_root(
    client: ResonateHttp,
    workflow_id: str,
    job: dict[str, Any],
    trace: dict[str, Any],
    lifetime: timedelta,
    tags: dict[str, str],
) -> PromiseRecord:
    timeout_at = int(time.time() * 1000 + lifetime.total_seconds() * 1000)
    return client.create(workflow_id, timeout_at, workflow_call(job, trace), tags)


def workflow_call(job: dict[str, Any], trace: dict[str, Any]) -> dict[str, Any]:
    """The root promise's param: the call a worker runs, as the SDK's ``TaskData`` encodes it."""
    return {"args": [job], "kwargs": {TRACE_ARGUMENT: trace}, "func": WORKFLOW_NAME,
            "version": TriggerSettings.current().workflow_version}  # fmt: skip


def _started(root: PromiseRecord) -> StartedWorkflow:
    data = root.param if isinstance(root.param, dict) else {}
    args, kwargs = data.get("args") or [None], data.get("kwargs") or {}
    return StartedWorkflow(args[0], kwargs.get(TRACE_ARGUMENT))


def workflow_records(workflow_id: str) -> WorkflowRecords:
    """The root promise and its children (``JobNotFound`` if there is no root)."""
    with resonate.operation() as client:
        return read_workflow(client, workflow_id)


def resolve(promise_id: str, value: dict[str, Any]) -> PromiseRecord:
    """Resolve a pending promise with ``value``; a settled one comes back unchanged."""
    with resonate.operation() as client:
        return client.settle(promise_id, "resolved", value)


def raise_signal(promise_id: str, timeout_at: int, value: dict[str, Any]) -> PromiseRecord:
    """Create the promise ``promise_id`` (once) and resolve it with ``value``."""
    with resonate.operation() as client:
        client.create(promise_id, timeout_at, None, {})
        return client.settle(promise_id, "resolved", value)
