"""What the trigger's logic needs from where jobs live: a small Protocol, so the rules (dedupe,
conflicts, who may decide what) are tested against an in-memory store as well as Resonate.

``docflow_trigger.dal.workflows`` (Resonate) is the implementation every handler uses.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from docflow_shared.resonate_http import PromiseRecord
from docflow_shared.workflow_records import WorkflowRecords

from ..dal.workflows import StartedWorkflow


class JobStore(Protocol):
    def start_workflow(
        self, workflow_id: str, job: dict[str, Any], trace: dict[str, Any], lifetime: timedelta
    ) -> StartedWorkflow: ...

    def record_failed_workflow(
        self,
        workflow_id: str,
        job: dict[str, Any],
        trace: dict[str, Any],
        lifetime: timedelta,
        error: Exception,
    ) -> StartedWorkflow: ...

    def workflow_records(self, workflow_id: str) -> WorkflowRecords: ...

    def jobs_in_flight(self, requester_id: str, up_to: int) -> dict[str, int]: ...

    def resolve(self, promise_id: str, value: dict[str, Any]) -> PromiseRecord: ...

    def raise_signal(
        self, promise_id: str, timeout_at: int, value: dict[str, Any]
    ) -> PromiseRecord: ...
