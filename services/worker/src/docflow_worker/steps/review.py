"""The review step (jobs that need approval): the reviewer's decision, made durable.

Runs after the workflow's approval wait. Approved: the decision is the step's result and the job
goes on to store. Rejected, or no decision in time: the job ends here.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from docflow_shared.models import Analysis, ExtractedField
from docflow_shared.settings import WorkerSettings

from ..analyzer import REQUIRED_FIELDS, incomplete
from ..domain import Approval, Decision, Job
from ..endings import end_job


def approval_required(job: Job, analysis: Analysis) -> bool:
    """Asked for by the request (or, with ``"auto"``, when the analysis is unsure), or an
    invoice above ``DOCFLOW_APPROVAL_INVOICE_OVER``."""
    if job.require_approval == "auto":
        if unsure(analysis, WorkerSettings.current().review_below_confidence):
            return True
    elif job.require_approval:
        return True
    limit = WorkerSettings.current().approval_invoice_over
    total = analysis.fields.get("total")
    if limit is None or analysis.document_type != "invoice" or total is None or total.value is None:
        return False
    try:
        return Decimal(str(total.value)) > limit
    except InvalidOperation:
        return False


def unsure(analysis: Analysis, below: float) -> bool:
    """Whether a person should look: a kind of document docflow cannot read, a required field
    missing (or left without a value: not sure enough), one less sure than ``below``, or a
    document that contradicts itself (an e-invoice whose printed total is not its XML's)."""
    if incomplete(analysis) or analysis.disagreements:
        return True
    required = [analysis.fields[name] for name in REQUIRED_FIELDS[analysis.document_type]]
    return any(found.confidence is not None and found.confidence < below for found in required)


def corrected(analysis: Analysis, approval: Approval | None) -> Analysis:
    """The analysis with the reviewer's corrections in place of the analyzer's values."""
    if approval is None or not approval.corrected:
        return analysis
    fields = dict(analysis.fields)
    for name, value in approval.corrected.items():
        before = fields.get(name)
        fields[name] = ExtractedField(
            value=value, evidence=f"corrected by {approval.approved_by}",
            page=before.page if before else 1, confidence=1.0, source="reviewer",
        )  # fmt: skip
    return analysis.model_copy(update={"fields": fields})


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
    return Approval(approved_by=decision.reviewer, comment=comment, corrected=decision.fields or {})
