"""Reading a workflow's durable promises from Resonate: the one source of job progress."""

from __future__ import annotations

from docflow_shared.resonate_client import LambdaResonate
from docflow_shared.workflow_records import WorkflowRecords, read_workflow

resonate = LambdaResonate()


def workflow_records(workflow_id: str) -> WorkflowRecords:
    """The root promise and its children (``JobNotFound`` if there is no root)."""
    return resonate.call(lambda client: read_workflow(client, workflow_id))
