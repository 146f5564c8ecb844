"""The picture of a job's page, on which its fields' evidence is boxed (``ExtractedField.box``):
what a reviewer looks at. Whoever may see the job may see its pages."""

from __future__ import annotations

from docflow_shared.errors import JobNotFound
from docflow_shared.identity import Caller
from docflow_shared.ids import require_valid_job_id, workflow_id
from docflow_shared.workflow_records import requester_of

from ..dal.pictures import page_picture
from ..dal.workflows import workflow_records


def picture_of_page(job_id: str, page: int, caller: Caller | None = None) -> bytes:
    """The JPEG of the job's ``page``; 404 for an unknown job (to a verified caller, another's)
    and for a page without a picture."""
    records = workflow_records(workflow_id(require_valid_job_id(job_id)))
    if caller is not None:
        caller.may_see(job_id, requester_of(records.root), reviewing=True)
    picture = page_picture(job_id, page)
    if picture is None:
        raise JobNotFound(f"job {job_id} has no picture of page {page}")
    return picture
