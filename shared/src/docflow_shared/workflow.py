"""What the front doors and the worker agree on about the workflow itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .ids import workflow_id
from .models import StepName

#: The name the worker registers the workflow under and the trigger starts it by.
WORKFLOW_NAME = "process_document"

#: The newest workflow version: what the trigger starts new jobs at, unless
#: ``DOCFLOW_WORKFLOW_VERSION`` says otherwise. Workers keep every version that may still have
#: jobs in flight, each in a module of its own (``docflow_worker.workflows``).
LATEST_WORKFLOW_VERSION = 2


def version_group(group: str, version: int) -> str:
    """The worker group a workflow version runs in: only workers that have the version listen
    there, so its tasks never reach one that would refuse them (the SDK's worker releases a
    task it has no function for, and the server hands it straight back: a hot loop). Version
    1's is the group itself, as it was before versions had groups."""
    return group if version == 1 else f"{group}-v{version}"


#: Where each live worker says which versions it runs: a key per worker, expiring unless
#: renewed (``docflow:workers:<workerId>`` = ``{"versions", "seenAt"}``).
LIVE_WORKER_PREFIX = "docflow:workers:"

#: Each workflow version's ``ctx.run`` steps, in call order: the root's local children, in
#: creation order. Version 2 cross-checks the analysis (``verify``) before it is stored.
WORKFLOW_STEPS: dict[int, tuple[StepName, ...]] = {
    1: (StepName.DOWNLOAD, StepName.EXTRACT, StepName.ANALYZE, StepName.STORE, StepName.NOTIFY),
    2: (StepName.DOWNLOAD, StepName.EXTRACT, StepName.ANALYZE, StepName.VERIFY, StepName.STORE,
        StepName.NOTIFY),
}  # fmt: skip


def steps_of(version: int, needs_approval: bool) -> tuple[StepName, ...]:
    """The steps of a job at ``version`` (an unknown one: the newest's). A job that needs
    approval records the reviewer's decision (``review``) right before ``store``; the approval
    itself is the root's external child just before ``review``."""
    steps = WORKFLOW_STEPS.get(version, WORKFLOW_STEPS[LATEST_WORKFLOW_VERSION])
    if not needs_approval:
        return steps
    store = steps.index(StepName.STORE)
    return (*steps[:store], StepName.REVIEW, *steps[store:])


#: A step's checkpoint (its promise's value) names the step: ``{CHECKPOINT_STEP: "analyze",
#: "value": ...}``, so a history says which step each checkpoint is, and a replay can tell a
#: step from another that took its place (``docflow replay-check``). From version 2 on: version
#: 1's checkpoints stay the bare values, which workers of before this format still read.
CHECKPOINT_STEP = "docflow:step"
NAMED_CHECKPOINTS_FROM = 2


def named_checkpoint(step: str, value: Any) -> dict[str, Any]:
    return {CHECKPOINT_STEP: step, "value": value}


def checkpoint_value(recorded: Any) -> tuple[str | None, Any]:
    """The step a checkpoint names, and its value. A version 1 checkpoint is the value itself,
    and names no step."""
    if isinstance(recorded, dict) and isinstance(recorded.get(CHECKPOINT_STEP), str):
        return recorded[CHECKPOINT_STEP], recorded.get("value")
    return None, recorded


#: A job's deadline is enforced by the workflow (at each step boundary and during the approval
#: wait), so its requester is notified. The root promise outlives it by this much: the server's
#: backstop, which ends the job even when no worker is left to do it.
DEADLINE_GRACE = timedelta(minutes=10)

#: How a job that ends without a result ends: the workflow rejects with "<ending>: <message>".
ENDINGS = ("rejected", "timed_out", "canceled")


#: The worker function that reads one batch of a document's pages (the workflow ``rpc``s it).
EXTRACT_PAGES_NAME = "extract_pages"

#: A wait's value when nothing settled it in time (set by the wait timer): an approval no
#: reviewer decided, a failed job nobody redrove before its deadline.
TIMED_OUT_DECISION = {"timedOut": True}
#: The worker function that times a wait out: a detached workflow that sleeps durably. (Named
#: before it timed out anything but approvals; the name stays for the timers already running.)
WAIT_TIMER_NAME = "approval_timer"
#: The value ``POST /jobs/{jobId}/redrive`` resolves a failed job's redrive wait with.
REDRIVEN = "redriven"


def cancel_signal_id(job_id: str) -> str:
    """The promise ``POST /jobs/{jobId}/cancel`` resolves; the workflow checks it between steps."""
    return cancel_signal_of(workflow_id(job_id))


def cancel_signal_of(root_id: str) -> str:
    """The cancel signal of the workflow ``root_id``."""
    return f"{root_id}/cancel"


#: Tags docflow adds to a job's root promise: the kind (so jobs can be listed: a search by tag)
#: and the correlation id of the request that started it.
KIND_TAG = "docflow:kind"
JOB_KIND = "job"
CORRELATION_TAG = "docflow:correlationId"
#: And its requester, so a requester's jobs in flight are counted by one search, and its
#: workflow version (also in its param, where the worker reads it).
REQUESTER_TAG = "docflow:requester"
VERSION_TAG = "docflow:version"
#: The workflow's keyword argument that carries the request's trace (``correlationId``,
#: ``acceptedAt`` in epoch ms). A keyword, not part of the job: a retried request with another
#: correlation id is still the same job.
TRACE_ARGUMENT = "trace"


#: Redis stream the notify step appends one event per finished job to.
NOTIFICATION_STREAM = "docflow:notifications"


#: Every job's document, text and result live below this key prefix of the blob store.
JOBS_PREFIX = "jobs/"


def blob_prefix(job_id: str) -> str:
    """Where one job's document, text and result live in the blob store."""
    return f"{JOBS_PREFIX}{job_id}/"


def page_picture_key(job_id: str, page: int) -> str:
    """Where the picture of a job's page is: the page as its text was read, a grey JPEG."""
    return f"{blob_prefix(job_id)}pages/{page}.jpg"
