"""How a job's status is read from its promises (``describe``: no Resonate needed): the step it
is on, each step's state, the result or the error, and a job recorded as failed before it ran."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from docflow_shared.errors import InvalidDocument, StepFailed
from docflow_shared.models import JobFailure, JobStatusName, StepName, StepStateName
from docflow_shared.resonate_http import PromiseRecord, decode_value
from docflow_shared.workflow import named_checkpoint
from docflow_shared.workflow_records import WorkflowRecords, workflow_records
from docflow_status.logic.job_status import describe
from resonate.codec import Codec, NoopEncryptor

pytestmark = pytest.mark.unit

ROOT = "doc/inv-1"
FAR = 2**42


def promise(id: str, state: str = "pending", value: Any = None, created: int = 1_000,
            settled: int | None = None, **tags: str) -> PromiseRecord:  # fmt: skip
    return PromiseRecord(id=id, state=state, value=value, tags=tags, timeout_at=FAR,
                         created_at=created, settled_at=settled)  # fmt: skip


def step(n: int, state: str = "resolved", value: Any = None) -> PromiseRecord:
    settled = 2_000 + n if state != "pending" else None
    return promise(f"{ROOT}:{n}", state, value, 1_500 + n, settled, **{"resonate:scope": "local"})


def states(records: WorkflowRecords) -> list[tuple[str, str]]:
    return [(s.name.value, s.state.value) for s in describe("inv-1", records, None).steps]


def test_a_running_job_is_on_its_first_step_that_is_not_done() -> None:
    records = WorkflowRecords(promise(ROOT), [step(1), step(2), step(3, "pending")], None, [])

    status = describe("inv-1", records, None)

    assert status.status is JobStatusName.PROCESSING
    assert status.step is StepName.ANALYZE
    assert states(records) == [("download", "done"), ("extract", "done"),
                               ("analyze", "running"), ("store", "pending"),
                               ("notify", "pending")]  # fmt: skip


def test_a_job_whose_steps_are_all_checkpointed_is_still_finishing_its_last() -> None:
    records = WorkflowRecords(promise(ROOT), [step(n) for n in range(1, 6)], None, [])

    assert describe("inv-1", records, None).step is StepName.NOTIFY


def test_a_job_waiting_for_its_reviewer_shows_the_analysis_to_decide_on() -> None:
    analysis = {"documentType": "invoice", "fields": {}}
    approval = promise(f"{ROOT}:4", **{"resonate:external": "true"})
    records = WorkflowRecords(promise(ROOT), [step(1), step(2), step(3, value=analysis)],
                              approval, [])  # fmt: skip

    status = describe("inv-1", records, None)

    assert status.status is JobStatusName.AWAITING_APPROVAL
    assert [s.name for s in status.steps][3] is StepName.REVIEW
    assert status.result == {"analysis": analysis}


def test_a_version_2_job_has_its_verify_step_and_its_named_checkpoints_read_as_values() -> None:
    analysis = {"documentType": "invoice", "fields": {}}
    root = dataclasses.replace(promise(ROOT), param={"func": "process_document", "version": 2})
    records = workflow_records(root, children(
        step(1, value=named_checkpoint("download", {})), batch(2, 1, 1),
        step(3, value=named_checkpoint("extract", {})),
        step(4, value=named_checkpoint("analyze", analysis)),
        step(5, value=named_checkpoint("verify", {"checks": [], "needsReview": True})),
        promise(f"{ROOT}:6", **{"resonate:external": "true"})))  # fmt: skip

    status = describe("inv-1", records, None)

    assert (status.status, status.step, status.workflow_version) == (
        JobStatusName.AWAITING_APPROVAL, StepName.REVIEW, 2)  # fmt: skip
    assert states(records) == [("download", "done"), ("extract", "done"), ("analyze", "done"),
                               ("verify", "done"), ("review", "pending"), ("store", "pending"),
                               ("notify", "pending")]  # fmt: skip
    assert status.result == {"analysis": analysis}, "the value, not its checkpoint"


def rejection(error: Exception) -> Any:
    """The rejected promise's value as the status reads it: encoded by the SDK as a worker
    rejects, decoded by the status's own client."""
    return decode_value({"data": Codec(NoopEncryptor()).encode(error).data})


def test_a_failed_job_names_its_failed_step_and_its_reason() -> None:
    error = InvalidDocument("not_found", "https://x/a.pdf answered 404")
    root = promise(ROOT, "rejected", rejection(error))
    records = WorkflowRecords(root, [step(1, "rejected")], None, [])

    status = describe("inv-1", records, None)

    assert status.status is JobStatusName.FAILED
    assert status.step is StepName.DOWNLOAD
    assert status.error == JobFailure(reason="not_found", message="https://x/a.pdf answered 404")
    assert status.result is None


@pytest.mark.parametrize(
    ("state", "error", "reason", "shown"),
    [
        ("rejected", ZeroDivisionError("division by zero"), "internal_error", JobStatusName.FAILED),
        # Before failures were JSON, "<reason>: <message>" was parsed back: "rejected: ..."
        # made a bug look like a reviewer's rejection.
        ("rejected", ValueError("rejected: not by a reviewer"), "internal_error",
         JobStatusName.FAILED),
        ("rejected_timedout", None, "rejected_timedout", JobStatusName.TIMED_OUT),
    ],
)  # fmt: skip
def test_a_job_that_failed_without_a_failure_record_says_why_it_can(
    state: str, error: Exception | None, reason: str, shown: JobStatusName
) -> None:
    root = promise(ROOT, state, rejection(error) if error else None)
    records = WorkflowRecords(root, [step(1), step(2, "rejected")], None, [])

    status = describe("inv-1", records, None)

    assert status.status is shown
    assert status.error == JobFailure(reason=reason, message=str(error) if error else state)


def test_a_job_recorded_as_failed_before_it_ran_has_its_reason_and_no_step() -> None:
    root = promise(
        ROOT, "rejected", rejection(InvalidDocument("invalid_upload", "x-amz-meta-type: bad"))
    )
    records = WorkflowRecords(root, [], None, [])

    status = describe("inv-1", records, None)

    assert status.status is JobStatusName.FAILED
    assert status.step is None
    assert all(s.state is StepStateName.PENDING for s in status.steps)
    assert status.error == JobFailure(reason="invalid_upload", message="x-amz-meta-type: bad")


def test_extract_is_running_from_its_first_page_batch_before_its_own_checkpoint() -> None:
    batch = promise(f"{ROOT}:2", created=1_700, **{"resonate:target": "poll://any@workers"})
    records = WorkflowRecords(promise(ROOT), [step(1)], None, [batch])

    extract = describe("inv-1", records, None).steps[1]

    assert extract.state is StepStateName.RUNNING
    assert extract.started_at is not None
    assert extract.started_at.timestamp() == 1.7


def failed(n: int, message: str) -> PromiseRecord:
    """Step ``n`` that failed on a bug, its rejection written as the SDK writes it."""
    value = rejection(StepFailed("internal_error", message))
    return promise(f"{ROOT}:{n}", "rejected", value, 1_500 + n, 2_000 + n,
                   **{"resonate:scope": "local"})  # fmt: skip


def wait(n: int, state: str = "pending", value: Any = None) -> PromiseRecord:
    """The workflow's ``n``-th child, an external promise: an approval or a redrive wait."""
    settled = 3_000 + n if state != "pending" else None
    return promise(f"{ROOT}:{n}", state, value, 2_500 + n, settled,
                   **{"resonate:external": "true"})  # fmt: skip


def batch(n: int, first: int, last: int, state: str = "resolved") -> PromiseRecord:
    record = promise(f"{ROOT}:{n}", state, {"key": "k", "first": first, "last": last}, 1_500 + n,
                     2_000 + n, **{"resonate:target": "poll://any@workers"})  # fmt: skip
    return dataclasses.replace(record, param={"func": "extract_pages",
                                              "args": [{}, {}, first, last]})  # fmt: skip


def children(*records: PromiseRecord) -> list[PromiseRecord]:
    for record in records:
        assert record.tags.setdefault("resonate:parent", ROOT) == ROOT
    return list(records)


def test_a_job_whose_step_failed_on_a_bug_is_failed_and_may_be_redriven() -> None:
    records = workflow_records(promise(ROOT), children(step(1), step(2), failed(3, "boom"),
                                                       wait(4)))  # fmt: skip

    status = describe("inv-1", records, None)

    assert (status.status, status.step, status.redrivable) == ("failed", "analyze", True)
    assert status.error == JobFailure(reason="internal_error", message="boom")
    assert states(records) == [("download", "done"), ("extract", "done"),
                               ("analyze", "failed"), ("store", "pending"),
                               ("notify", "pending")]  # fmt: skip
    assert [(r.run, r.failed_step) for r in status.runs] == [(1, StepName.ANALYZE)]


def test_a_redriven_job_runs_the_failed_step_again_and_may_then_wait_for_approval() -> None:
    redriven = wait(4, "resolved", {"redriven": True, "requestedAt": 1})
    records = workflow_records(promise(ROOT), children(
        step(1), step(2), failed(3, "boom"), redriven, step(6), wait(7)))  # fmt: skip

    status = describe("inv-1", records, None)

    assert (status.status, status.step, status.redrivable) == ("awaiting_approval", "review",
                                                               False)  # fmt: skip
    assert records.approval is not None
    assert records.approval.id == f"{ROOT}:7"
    analyzed = records.step(StepName.ANALYZE)
    assert analyzed is not None
    assert analyzed.id == f"{ROOT}:6", "the rerun takes the failed step's place"
    assert [(r.run, r.failed_step) for r in status.runs] == [(1, StepName.ANALYZE), (2, None)]
    assert status.runs[1].started_at is not None


def test_a_redrive_after_a_page_batch_failed_reads_the_failed_batch_again() -> None:
    records = workflow_records(promise(ROOT), children(
        step(1), batch(2, 1, 8), batch(3, 9, 12, "rejected"), wait(4)))  # fmt: skip
    assert records.status is JobStatusName.FAILED
    assert records.redrive_waits[0].failed.id == f"{ROOT}:3"
    assert records.failed_step(records.redrive_waits[0]) is StepName.EXTRACT

    rerun = workflow_records(promise(ROOT), children(
        step(1), batch(2, 1, 8), batch(3, 9, 12, "rejected"),
        wait(4, "resolved", {"redriven": True}), batch(6, 9, 12), step(7, "pending")))  # fmt: skip

    assert sorted(b.id for b in rerun.page_batches) == [f"{ROOT}:2", f"{ROOT}:6"]
    assert describe("inv-1", rerun, None).status is JobStatusName.PROCESSING
    assert states(rerun)[:2] == [("download", "done"), ("extract", "running")]


def test_a_job_not_redriven_by_its_deadline_failed_for_good_with_its_step_failure() -> None:
    ending = '{"reason":"internal_error","message":"boom"}'
    root = promise(ROOT, "rejected", {"__type": "error", "message": ending}, settled=9_000)
    records = workflow_records(root, children(step(1), step(2), failed(3, "boom"),
                                              wait(4, "resolved", {"timedOut": True})))  # fmt: skip

    status = describe("inv-1", records, None)

    assert (status.status, status.step, status.redrivable) == ("failed", "analyze", False)
    assert status.error == JobFailure(reason="internal_error", message="boom")
    assert [(r.run, r.failed_step) for r in status.runs] == [(1, StepName.ANALYZE)]


def audited(action: str, by: str | None, at: str, **value: Any) -> dict[str, Any]:
    entry = {"action": action, "by": by, "verified": by is not None, "at": at,
             "correlationId": f"req-{action}"}  # fmt: skip
    return {**value, "audit": entry}


def test_the_audit_trail_lists_each_decision_with_its_entry_oldest_first() -> None:
    failure = '{"reason":"internal_error","message":"analyze failed: TypeError: boom"}'
    external = {"resonate:external": "true"}
    children = [
        step(1), step(2), step(3, "rejected", {"message": failure}),
        promise(f"{ROOT}:4", "resolved", audited("redriven", "alice", "2025-11-30T10:00:00Z",
                                                 redriven=True), **external),
        step(5), promise(f"{ROOT}:6", "resolved", audited("approved", "rita",
                                                          "2025-11-30T11:00:00Z",
                                                          approved=True), **external),
    ]  # fmt: skip
    asked = audited("cancel_requested", None, "2025-11-30T10:30:00Z", canceled=True)
    cancel = promise(f"{ROOT}/cancel", "resolved", asked)
    records = workflow_records(promise(ROOT), children, cancel)

    trail = describe("inv-1", records, None).audit

    assert [(e.action, e.by, e.verified, e.correlation_id) for e in trail] == [
        ("redriven", "alice", True, "req-redriven"),
        ("cancel_requested", None, False, "req-cancel_requested"),
        ("approved", "rita", True, "req-approved"),
    ]
