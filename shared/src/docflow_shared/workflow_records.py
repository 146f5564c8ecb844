"""A job's durable records in Resonate, as the front doors read them: the one source of truth.

The root promise ``doc/<jobId>`` carries the job and its outcome. Its direct children, numbered
``<root>:<n>`` in call order, are the workflow's steps (``ctx.run``: local promises), extract's
page batches (``ctx.rpc``: remote promises any worker may run) and the waits (``ctx.promise``:
external promises that someone else settles): for a job that needs approval, the reviewer's
decision, right after analyze; for a step that failed (``StepFailed``), its redrive, right
after the failure. A redrive runs the failed step again: a new child, after the wait, that
takes the failed one's place. The detached wait timers (``<root>:d<hash>``) are children too,
and not the job's progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .audit import audit_event_in
from .errors import JobNotFound
from .models import AuditEvent, JobFailure, JobStatusName, StepName
from .resonate_http import PromiseRecord, ResonateHttp
from .status import job_status
from .workflow import REDRIVEN, cancel_signal_of, checkpoint_value, steps_of

CHILDREN_PAGE = 1000  # nine steps and waits, a page batch per 8 pages, two more per redrive


@dataclass(frozen=True)
class RedriveWait:
    """A failed step's wait for a redrive: ``failed`` is the step's (or page batch's) promise
    whose failure stopped the run; ``step_index`` its place in the steps (None: a page batch)."""

    wait: PromiseRecord
    failed: PromiseRecord
    step_index: int | None

    @property
    def redriven(self) -> bool:
        return (
            self.wait.state == "resolved"
            and isinstance(self.wait.value, dict)
            and (self.wait.value.get(REDRIVEN) is True)
        )


@dataclass(frozen=True)
class WorkflowRecords:
    root: PromiseRecord
    steps: list[PromiseRecord]  # each step begun so far, in call order (its latest run)
    approval: PromiseRecord | None
    page_batches: list[PromiseRecord]  # extract's batches (remote children), latest run of each
    redrive_waits: tuple[RedriveWait, ...] = ()  # in order: one per failure a run stopped at
    cancel: PromiseRecord | None = None  # the job's cancel signal, once a cancel was asked for

    @property
    def audit(self) -> list[AuditEvent]:
        """The decisions taken on the job, oldest first: each is written with its entry."""
        decisions = [self.approval, self.cancel, *(w.wait for w in self.redrive_waits)]
        events = [audit_event_in(d.value) for d in decisions if d is not None]
        return sorted((e for e in events if e is not None), key=lambda e: e.at)

    @property
    def step_names(self) -> tuple[StepName, ...]:
        return steps_of(version_of(self.root), needs_approval=self.approval is not None)

    def step(self, name: StepName) -> PromiseRecord | None:
        """Step ``name``'s checkpoint promise, once the step has begun: the root's local
        children come in the order ``step_names`` (the workflow's call order) gives."""
        index = self.step_names.index(name)
        return self.steps[index] if index < len(self.steps) else None

    def step_value(self, name: StepName) -> Any:
        """What step ``name`` returned, once it has (its checkpoint's value)."""
        record = self.step(name)
        return checkpoint_value(record.value)[1] if record and record.state == "resolved" else None

    def failed_step(self, wait: RedriveWait) -> StepName:
        return StepName.EXTRACT if wait.step_index is None else self.step_names[wait.step_index]

    @property
    def awaiting_approval(self) -> bool:
        return self.approval is not None and self.approval.state == "pending"

    @property
    def awaiting_redrive(self) -> RedriveWait | None:
        """The wait of a job that failed and may still be redriven."""
        if self.root.state != "pending" or not self.redrive_waits:
            return None
        last = self.redrive_waits[-1]
        return last if last.wait.state == "pending" else None

    @property
    def error(self) -> JobFailure | None:
        """Why an unsuccessful job ended, or why a job that awaits a redrive failed.

        The workflow rejects with a ``JobFailure`` (``ReasonedError``). An error nobody expected
        (a bug) leaves only its text: ``internal_error``; a root the server ended (its deadline,
        a cancel) carries nothing: its state is the reason.
        """
        waiting = self.awaiting_redrive
        if waiting is not None:
            return failure_of(waiting.failed)
        if not self.root.state.startswith("rejected"):
            return None
        return failure_of(self.root)

    @property
    def status(self) -> JobStatusName:
        if self.awaiting_redrive is not None:
            return JobStatusName.FAILED
        error = self.error
        return job_status(
            self.root.state,
            reason=error.reason if error else None,
            awaiting_approval=self.awaiting_approval,
        )


def job_of(root: PromiseRecord) -> dict[str, Any]:
    """The job (the request, as the workflow received it) its root promise holds."""
    args = root.param.get("args") if isinstance(root.param, dict) else None
    job = args[0] if isinstance(args, list) and args else None
    return job if isinstance(job, dict) else {}


def version_of(root: PromiseRecord) -> int:
    """The workflow version the job runs (its call's ``version``; 1 before there were more)."""
    version = root.param.get("version") if isinstance(root.param, dict) else None
    return version if isinstance(version, int) and version >= 1 else 1


def requester_of(root: PromiseRecord) -> str | None:
    """Who asked for the job: the ``requesterId`` of the request its root promise holds."""
    requester = job_of(root).get("requesterId")
    return requester if isinstance(requester, str) else None


def failure_of(promise: PromiseRecord) -> JobFailure:
    """A rejected promise's ``JobFailure`` (the SDK keeps a rejection's ``message``)."""
    data = promise.value
    text = data.get("message", "") if isinstance(data, dict) else str(data or "")
    try:
        return JobFailure.model_validate_json(text)
    except ValidationError:
        reason = "internal_error" if promise.state == "rejected" else promise.state
        return JobFailure(reason=reason, message=text or promise.state)


def _sequence(record: PromiseRecord) -> int:
    return int(record.id.rsplit(":", 1)[1])


def _pages(batch: PromiseRecord) -> object:
    """Which pages a batch reads (its call's last two arguments): a rerun reads the same."""
    param = batch.param
    args = param.get("args") if isinstance(param, dict) else None
    return tuple(args[-2:]) if isinstance(args, list) and len(args) >= 2 else batch.id


def workflow_records(
    root: PromiseRecord, children: list[PromiseRecord], cancel: PromiseRecord | None = None
) -> WorkflowRecords:
    """The job's records from the root's children, walked in call order (and its cancel
    signal, if there is one)."""
    numbered = sorted((p for p in children if p.id != root.id and p.id.rsplit(":", 1)[1].isdigit()),
                      key=_sequence)  # fmt: skip
    steps: list[PromiseRecord] = []
    batches: dict[object, PromiseRecord] = {}
    approval: PromiseRecord | None = None
    waits: list[RedriveWait] = []
    previous: PromiseRecord | None = None
    for child in numbered:
        if child.tags.get("resonate:external") == "true":
            if previous is not None and _is_local(previous) and previous.state == "resolved":
                approval = child  # right after analyze, whose result it decides on
            else:
                waits.append(_redrive_wait(child, previous, steps, batches))
        elif _is_local(child):
            if previous is not None and waits and waits[-1].wait is previous:
                steps[-1] = child  # the failed step, run again
            else:
                steps.append(child)
        elif "resonate:target" in child.tags:
            batches[_pages(child)] = child  # a rerun takes the failed batch's place
        previous = child
    return WorkflowRecords(root, steps, approval, list(batches.values()), tuple(waits), cancel)


def _is_local(promise: PromiseRecord) -> bool:
    return promise.tags.get("resonate:scope") == "local"


def _redrive_wait(
    wait: PromiseRecord,
    previous: PromiseRecord | None,
    steps: list[PromiseRecord],
    batches: dict[object, PromiseRecord],
) -> RedriveWait:
    if previous is not None and _is_local(previous):
        return RedriveWait(wait, previous, len(steps) - 1)
    # A page batch failed: the workflow awaits them in call order, so the first rejected one.
    rejected = sorted((b for b in batches.values() if b.state.startswith("rejected")),
                      key=_sequence)  # fmt: skip
    failed = rejected[0] if rejected else (previous or wait)
    return RedriveWait(wait, failed, None)


def read_workflow(client: ResonateHttp, workflow_id: str) -> WorkflowRecords:
    """The root, its children and its cancel signal (the server's 404 for a missing root
    propagates)."""
    root = client.get(workflow_id)
    page = client.search(None, {"resonate:parent": workflow_id}, CHILDREN_PAGE, None)
    try:
        cancel: PromiseRecord | None = client.get(cancel_signal_of(workflow_id))
    except JobNotFound:
        cancel = None  # never asked for
    return workflow_records(root, page.promises, cancel)
