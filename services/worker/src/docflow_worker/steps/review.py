"""The review step (jobs that need approval): the reviewer's decision, made durable.

Runs after the workflow's approval wait. Approved: the decision is the step's result and the job
goes on to store. Rejected, or no decision in time: the job ends here.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from docflow_shared.models import Analysis
from docflow_shared.settings import WorkerSettings

from ..domain import Approval, Decision, Job
from ..endings import end_job


def approval_required(job: Job, analysis: Analysis) -> bool:
    """Asked for by the request, or an invoice above ``DOCFLOW_APPROVAL_INVOICE_OVER``."""
    if job.require_approval:
        return True
    limit = WorkerSettings.current().approval_invoice_over
    total = analysis.fields.get("total")
    if limit is None or analysis.document_type != "invoice" or total is None or total.value is None:
        return False
    try:
        return Decimal(str(total.value)) > limit
    except InvalidOperation:
        return False


def review(job: Job, decision: Decision) -> Approval:
    if decision.timed_out:
        seconds = WorkerSettings.current().approval_timeout_seconds
        end_job(job, "timed_out", f"no approval decision within {seconds:g} s")
    if decision.canceled:
        end_job(job, "canceled", "canceled while awaiting approval")
    comment = decision.comment or ""
    if not decision.approved:
        end_job(
            job,
            "rejected",
            f"rejected by {decision.reviewer}" + (f": {comment}" if comment else ""),
        )
    return Approval(approved_by=decision.reviewer, comment=comment)
