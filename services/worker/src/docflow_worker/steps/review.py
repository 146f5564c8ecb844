"""The review step (jobs that need approval): the reviewer's decision, made durable.

Runs after the workflow's approval wait. Approved: the decision is the step's result and the job
goes on to store. Rejected, or no decision in time: the job ends here.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from docflow_shared.settings import WorkerSettings

from ..endings import end_job


def approval_required(job: dict[str, Any], analysis: dict[str, Any]) -> bool:
    """Asked for by the request, or an invoice above ``DOCFLOW_APPROVAL_INVOICE_OVER``."""
    if job.get("requireApproval"):
        return True
    limit = WorkerSettings.current().approval_invoice_over
    if limit is None or analysis.get("documentType") != "invoice":
        return False
    total = (analysis.get("fields", {}).get("total") or {}).get("value")
    try:
        return total is not None and Decimal(str(total)) > limit
    except InvalidOperation:
        return False


def review(job: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    if decision.get("timedOut"):
        seconds = WorkerSettings.current().approval_timeout_seconds
        end_job(job, "timed_out", f"no approval decision within {seconds:g} s")
    if decision.get("canceled"):
        end_job(job, "canceled", "canceled while awaiting approval")
    reviewer = decision.get("reviewer", "?")
    comment = decision.get("comment") or ""
    if not decision.get("approved"):
        end_job(job, "rejected", f"rejected by {reviewer}" + (f": {comment}" if comment else ""))
    return {"approvedBy": reviewer, "comment": comment}
