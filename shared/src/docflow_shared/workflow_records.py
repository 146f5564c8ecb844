"""A job's durable records in Resonate, as the front doors read them: the one source of truth.

The root promise ``doc/<jobId>`` carries the job and its outcome. Its direct children are the
workflow's steps (``ctx.run``: local promises, ``<root>:<n>`` with ``n`` rising in call order),
extract's page batches (``ctx.rpc``: remote promises any worker may run), and, for a job that
needs approval, one external promise (``ctx.promise``) that the reviewer's decision settles and
the detached approval timer.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from .models import JobFailure, JobStatusName, StepName
from .resonate_http import PromiseRecord, ResonateHttp
from .status import job_status
from .workflow import steps_of

CHILDREN_PAGE = 100  # a workflow has at most nine children


@dataclass(frozen=True)
class WorkflowRecords:
    root: PromiseRecord
    steps: list[PromiseRecord]  # the steps started so far, in call order
    approval: PromiseRecord | None
    page_batches: list[PromiseRecord]  # extract's batches (remote children: ``ctx.rpc``)

    @property
    def step_names(self) -> tuple[StepName, ...]:
        return steps_of(needs_approval=self.approval is not None)

    def step(self, name: StepName) -> PromiseRecord | None:
        """Step ``name``'s checkpoint promise, once the step has begun: the root's local
        children come in the order ``step_names`` (the workflow's call order) gives."""
        index = self.step_names.index(name)
        return self.steps[index] if index < len(self.steps) else None

    @property
    def awaiting_approval(self) -> bool:
        return self.approval is not None and self.approval.state == "pending"

    @property
    def error(self) -> JobFailure | None:
        """Why an unsuccessful job ended.

        The workflow rejects with a ``JobFailure`` (``ReasonedError``). An error nobody expected
        (a bug) leaves only its text: ``internal_error``; a root the server ended (its deadline,
        a cancel) carries nothing: its state is the reason.
        """
        state = self.root.state
        if not state.startswith("rejected"):
            return None
        data = self.root.value
        text = data.get("message", "") if isinstance(data, dict) else str(data or "")
        try:
            return JobFailure.model_validate_json(text)
        except ValidationError:
            reason = "internal_error" if state == "rejected" else state
            return JobFailure(reason=reason, message=text or state)

    @property
    def status(self) -> JobStatusName:
        error = self.error
        return job_status(
            self.root.state,
            reason=error.reason if error else None,
            awaiting_approval=self.awaiting_approval,
        )


def _sequence(record: PromiseRecord) -> int:
    return int(record.id.rsplit(":", 1)[1])


def read_workflow(client: ResonateHttp, workflow_id: str) -> WorkflowRecords:
    """The root and its children (the server's 404 for a missing root propagates).

    Other children (the approval timer, a detached workflow) are not the job's progress.
    """
    root = client.get(workflow_id)
    page = client.search(None, {"resonate:parent": workflow_id}, CHILDREN_PAGE, None)
    children = [p for p in page.promises if p.id != workflow_id]
    steps = sorted((p for p in children if p.tags.get("resonate:scope") == "local"), key=_sequence)
    approvals = [p for p in children if p.tags.get("resonate:external") == "true"]
    # A detached child (the approval timer) has a ":d<hash>" id; a page batch a numbered one.
    batches = [
        p for p in children if "resonate:target" in p.tags and p.id.rsplit(":", 1)[1].isdigit()
    ]
    return WorkflowRecords(root, steps, approvals[0] if approvals else None, batches)
