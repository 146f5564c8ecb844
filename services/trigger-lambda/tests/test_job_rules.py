"""The trigger's rules against an in-memory store (its ``JobStore`` Protocol): a job starts once
however often it is sent, a reused id with another request is a conflict, only a job that
waits for a decision can be decided, once, and only a failed job that waits for a redrive can
be redriven, once. The same rules against Resonate: tests/e2e."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from docflow_shared.errors import (
    Forbidden,
    InvalidFields,
    JobConflict,
    JobNotFound,
    TooManyRequests,
)
from docflow_shared.identity import Caller
from docflow_shared.ids import job_id_of, workflow_id
from docflow_shared.models import ApprovalDecision, JobRequest
from docflow_shared.resonate_http import PromiseRecord
from docflow_shared.settings import forget_settings
from docflow_shared.workflow import cancel_signal_of
from docflow_shared.workflow_records import WorkflowRecords, requester_of, workflow_records
from docflow_trigger.dal.redis_store import Admission
from docflow_trigger.dal.workflows import StartedWorkflow
from docflow_trigger.logic.fair_use import IN_FLIGHT_RETRY_AFTER_SECONDS, admit_start
from docflow_trigger.logic.job_actions import cancel, decide, redrive
from docflow_trigger.logic.start_job import start_job

pytestmark = pytest.mark.unit

FAR = 2**42


@dataclass
class MemoryStore:
    """Promises in a dict, with Resonate's rules: create-if-absent, settle-once."""

    promises: dict[str, PromiseRecord] = field(default_factory=dict)

    def start_workflow(self, workflow_id: str, job: dict[str, Any], trace: dict[str, Any],
                       lifetime: timedelta) -> StartedWorkflow:  # fmt: skip
        root = self.promises.setdefault(workflow_id, PromiseRecord(
            id=workflow_id, state="pending", timeout_at=FAR,
            param={"args": [job], "kwargs": {"trace": trace}}))  # fmt: skip
        data = root.param
        return StartedWorkflow(data["args"][0], data["kwargs"]["trace"])

    def record_failed_workflow(self, workflow_id: str, job: dict[str, Any],
                               trace: dict[str, Any], lifetime: timedelta,
                               error: Exception) -> StartedWorkflow:  # fmt: skip
        started = self.start_workflow(workflow_id, job, trace, lifetime)
        self._settle(workflow_id, "rejected", {"message": str(error)})
        return started

    def workflow_records(self, workflow_id: str) -> WorkflowRecords:
        if workflow_id not in self.promises:
            raise JobNotFound(f"promise {workflow_id} not found")
        children = [p for p in self.promises.values()
                    if p.tags.get("resonate:parent") == workflow_id]  # fmt: skip
        cancel = self.promises.get(cancel_signal_of(workflow_id))
        return workflow_records(self.promises[workflow_id], children, cancel)

    def jobs_in_flight(self, requester_id: str, up_to: int) -> dict[str, int]:
        roots = [p for p in self.promises.values() if p.state == "pending"
                 and requester_of(p) == requester_id]  # fmt: skip
        return {str(job_id_of(p.id)): p.timeout_at for p in roots[:up_to]}

    def resolve(self, promise_id: str, value: dict[str, Any]) -> PromiseRecord:
        return self._settle(promise_id, "resolved", value)

    def raise_signal(self, promise_id: str, timeout_at: int,
                     value: dict[str, Any]) -> PromiseRecord:  # fmt: skip
        self.promises.setdefault(promise_id, PromiseRecord(id=promise_id, state="pending",
                                                           timeout_at=timeout_at))  # fmt: skip
        return self.resolve(promise_id, value)

    def child(self, job_id: str, n: int, state: str, external: bool = False,
              value: Any = None) -> str:  # fmt: skip
        """The workflow's ``n``-th child: a step (``ctx.run``) or a wait (``ctx.promise``)."""
        root = workflow_id(job_id)
        kind = {"resonate:external": "true"} if external else {"resonate:scope": "local"}
        self.promises[f"{root}:{n}"] = PromiseRecord(
            id=f"{root}:{n}", state=state, timeout_at=FAR, value=value,
            tags={"resonate:parent": root, **kind})  # fmt: skip
        return f"{root}:{n}"

    def await_approval(self, job_id: str) -> str:
        for n in (1, 2, 3):  # download, extract and analyze done
            self.child(job_id, n, "resolved")
        return self.child(job_id, 4, "pending", external=True)

    def fail_analyze(self, job_id: str) -> str:
        """analyze failed (a bug): the job waits for a redrive."""
        self.child(job_id, 1, "resolved")
        self.child(job_id, 2, "resolved")
        failure = '{"reason":"internal_error","message":"analyze failed: TypeError: boom"}'
        self.child(job_id, 3, "rejected", value={"__type": "error", "message": failure})
        return self.child(job_id, 4, "pending", external=True)

    def _settle(self, promise_id: str, state: str, value: Any) -> PromiseRecord:
        record = self.promises[promise_id]
        if record.state == "pending":
            record = dataclasses.replace(record, state=state, value=value)
            self.promises[promise_id] = record
        return record


def job(**changes: Any) -> JobRequest:
    fields = {"jobId": "inv-1", "documentUrl": "https://example.com/a.pdf", "requesterId": "alice"}
    return JobRequest.model_validate(fields | changes)


def test_the_same_job_sent_again_starts_nothing_and_keeps_the_first_correlation_id() -> None:
    store = MemoryStore()

    first = start_job(job(), "request-1", store)
    again = start_job(job(), "request-2", store)

    assert not first.deduplicated
    assert again.deduplicated
    assert again.correlation_id == "request-1"
    assert again.accepted == first.accepted
    assert list(store.promises) == ["doc/inv-1"]


def test_a_reused_id_with_another_request_is_a_conflict() -> None:
    store = MemoryStore()
    start_job(job(), "request-1", store)

    with pytest.raises(JobConflict, match="already exists with a different request"):
        start_job(job(documentUrl="https://example.com/b.pdf"), "request-2", store)


def test_a_job_waiting_for_approval_is_decided_once() -> None:
    store = MemoryStore()
    start_job(job(), "request-1", store)
    approval = store.await_approval("inv-1")
    yes = ApprovalDecision(approved=True, reviewer="bob")

    accepted = decide("inv-1", yes, store, correlation_id="request-2")

    assert accepted.action == "approved"
    value = store.promises[approval].value
    audit = value.pop("audit")
    assert value == {"approved": True, "reviewer": "bob", "comment": None, "fields": None}
    # Without a verified caller, the name the body gives, and the record says so.
    assert audit | {"at": None} == {
        "action": "approved", "by": "bob", "verified": False, "at": None,
        "correlationId": "request-2", "comment": None}  # fmt: skip
    with pytest.raises(JobConflict, match="no longer waiting for approval"):
        decide("inv-1", ApprovalDecision(approved=False, reviewer="eve"), store)


def test_a_job_that_waits_for_no_approval_cannot_be_decided() -> None:
    store = MemoryStore()
    start_job(job(), "request-1", store)

    with pytest.raises(JobConflict, match="not waiting for approval"):
        decide("inv-1", ApprovalDecision(approved=True, reviewer="bob"), store)


def test_cancel_raises_the_signal_and_wakes_a_job_waiting_for_approval() -> None:
    store = MemoryStore()
    start_job(job(), "request-1", store)
    approval = store.await_approval("inv-1")

    accepted = cancel("inv-1", store, correlation_id="request-2")
    again = cancel("inv-1", store, correlation_id="request-3")

    assert accepted.action == again.action == "cancel_requested"
    signal = store.promises["doc/inv-1/cancel"].value
    assert signal["canceled"] is True
    assert (signal["audit"]["by"], signal["audit"]["correlationId"]) == (None, "request-2")
    assert store.promises[approval].value == {"canceled": True}
    trail = store.workflow_records("doc/inv-1").audit
    assert [(e.action, e.correlation_id) for e in trail] == [("cancel_requested", "request-2")]


def test_an_ended_job_can_be_neither_canceled_nor_decided() -> None:
    store = MemoryStore()
    start_job(job(), "request-1", store)
    store.resolve("doc/inv-1", {"resultUrl": "s3://x"})

    with pytest.raises(JobConflict, match="already ended"):
        cancel("inv-1", store)
    with pytest.raises(JobConflict, match="already ended"):
        decide("inv-1", ApprovalDecision(approved=True, reviewer="bob"), store)


def test_an_unknown_job_is_not_found() -> None:
    with pytest.raises(JobNotFound):
        cancel("nobody", MemoryStore())


def test_a_failed_job_waiting_for_a_redrive_is_redriven_once() -> None:
    store = MemoryStore()
    start_job(job(), "request-1", store)
    wait = store.fail_analyze("inv-1")
    records = store.workflow_records("doc/inv-1")
    assert (records.status, records.error.reason if records.error else None) == (
        "failed", "internal_error")  # fmt: skip

    accepted = redrive("inv-1", store)

    assert accepted.action == "redriven"
    assert store.promises[wait].value["redriven"] is True
    with pytest.raises(JobConflict, match="is processing: only a failed job"):
        redrive("inv-1", store)


@pytest.mark.parametrize("ending", ["waiting", "done", "failed for good"])
def test_only_a_job_that_waits_for_a_redrive_can_be_redriven(ending: str) -> None:
    store = MemoryStore()
    start_job(job(), "request-1", store)
    if ending == "done":
        store.resolve("doc/inv-1", {"resultUrl": "s3://x"})
    elif ending == "failed for good":
        store._settle("doc/inv-1", "rejected",
                      {"message": '{"reason":"not_found","message":"404"}'})  # fmt: skip
    else:
        store.await_approval("inv-1")

    expected = {"waiting": "is awaiting_approval", "done": "is done",
                "failed for good": r"failed for good \(not_found\)"}[ending]  # fmt: skip
    with pytest.raises(JobConflict, match=expected):
        redrive("inv-1", store)


def test_cancel_wakes_a_failed_job_waiting_for_a_redrive() -> None:
    store = MemoryStore()
    start_job(job(), "request-1", store)
    wait = store.fail_analyze("inv-1")

    cancel("inv-1", store)

    assert store.promises[wait].value == {"canceled": True}
    with pytest.raises(JobConflict, match="is processing: only a failed job"):
        redrive("inv-1", store)


ALICE, BOB = Caller("alice", frozenset()), Caller("bob", frozenset())
RITA, OPS = Caller("rita", frozenset({"reviewer"})), Caller("ops", frozenset({"admin"}))


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryStore]:
    """A fresh store, and the front doors' settings that verified callers are judged by."""
    monkeypatch.setenv("RESONATE_URL", "http://127.0.0.1:9")
    forget_settings()
    yield MemoryStore()
    forget_settings()


def test_a_verified_caller_starts_acts_on_and_finds_only_its_own_jobs(
    verified: MemoryStore,
) -> None:
    store, alice, bob, admin = verified, ALICE, BOB, OPS

    start_job(job(requesterId="alice"), "request-1", store, caller=alice)
    with pytest.raises(Forbidden, match="you are bob: you may not start a job as alice"):
        start_job(job(jobId="inv-2", requesterId="alice"), "request-2", store, caller=bob)
    start_job(job(jobId="inv-3", requesterId="alice"), "request-3", store, caller=admin)
    store.fail_analyze("inv-1")

    with pytest.raises(JobNotFound, match="no job inv-1"):
        cancel("inv-1", store, caller=bob)
    with pytest.raises(JobNotFound, match="no job inv-1"):
        redrive("inv-1", store, caller=bob)
    assert redrive("inv-1", store, caller=alice).action == "redriven"
    assert cancel("inv-3", store, caller=admin).action == "cancel_requested"


def test_a_verified_decision_is_a_reviewers_in_its_own_name_on_another_requesters_job(
    verified: MemoryStore,
) -> None:
    store, alice, bob, rita = verified, ALICE, BOB, RITA
    start_job(job(requesterId="alice"), "request-1", store)
    start_job(job(jobId="inv-2", requesterId="rita"), "request-2", store)
    approval = store.await_approval("inv-1")
    store.await_approval("inv-2")

    def as_(caller: Caller, reviewer: str, job_id: str = "inv-1") -> Any:
        return decide(job_id, ApprovalDecision(approved=True, reviewer=reviewer), store, caller)

    with pytest.raises(JobNotFound, match="no job inv-1"):
        as_(bob, "bob")
    with pytest.raises(Forbidden, match="deciding needs the reviewer role"):
        as_(alice, "alice")
    with pytest.raises(Forbidden, match="you are rita: you may not decide as bob"):
        as_(rita, "bob")
    with pytest.raises(Forbidden, match="may not decide on a job of your own"):
        as_(rita, "rita", "inv-2")
    assert as_(rita, "rita").action == "approved"
    assert store.promises[approval].value["reviewer"] == "rita"


def test_the_verified_caller_is_the_requester_and_reviewer_a_body_may_leave_out(
    verified: MemoryStore,
) -> None:
    store = verified
    unnamed = JobRequest.model_validate({"jobId": "inv-1", "documentUrl": "https://x.org/a.pdf"})

    start_job(unnamed, "request-1", store, caller=ALICE)
    start_job(unnamed, "request-2", store, caller=ALICE)  # the same job again: no conflict
    approval = store.await_approval("inv-1")
    decide("inv-1", ApprovalDecision(approved=False), store, RITA, correlation_id="request-3")

    assert requester_of(store.promises["doc/inv-1"]) == "alice"
    decided = store.promises[approval].value
    assert decided["reviewer"] == "rita"
    assert decided["audit"]["by"] == "rita"
    assert decided["audit"]["verified"] is True
    assert decided["audit"]["action"] == "rejected"
    with pytest.raises(InvalidFields, match="requesterId") as refused:
        start_job(unnamed.model_copy(update={"job_id": "inv-2"}), "request-4", store)
    assert refused.value.details[0]["field"] == "requesterId"
    with pytest.raises(InvalidFields, match="reviewer"):
        decide("inv-1", ApprovalDecision(approved=True), store)


def test_a_redrive_is_recorded_under_the_verified_callers_name(verified: MemoryStore) -> None:
    store = verified
    start_job(job(), "request-1", store, caller=ALICE)
    store.fail_analyze("inv-1")

    redrive("inv-1", store, caller=ALICE, correlation_id="request-2")

    [entry] = store.workflow_records("doc/inv-1").audit
    assert (entry.action, entry.by, entry.verified, entry.correlation_id) == (
        "redriven", "alice", True, "request-2")  # fmt: skip


@dataclass
class Counters:
    """Fair use's counters as Redis keeps them, replaced by what a test needs: none (no
    Redis: ``admit`` answers None), or a start rate that asks for a wait after ``free``
    starts."""

    free: int | None = None
    wait_ms: int = 1500
    taken: int = 0

    def admit(self, requester_id: str, job_id: str, **limits: int) -> Admission | None:
        if self.free is None:
            return None
        self.taken += 1
        over = self.taken > self.free
        return Admission(self.wait_ms if over else 0, in_flight=0, admitted=not over)

    def replace_in_flight(self, requester_id: str, deadlines: dict[str, int]) -> None:
        raise AssertionError("only a refusal for jobs in flight recounts them")


@pytest.fixture
def limited(verified: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    """A fresh store, and at most 2 jobs in flight per requester."""
    monkeypatch.setenv("DOCFLOW_MAX_JOBS_IN_FLIGHT", "2")
    forget_settings()
    return verified


def test_without_redis_the_jobs_in_flight_are_counted_in_the_store(limited: MemoryStore) -> None:
    store, no_redis = limited, Counters()
    for n in (1, 2):
        start_job(job(jobId=f"inv-{n}"), "request", store)

    with pytest.raises(TooManyRequests, match="alice has 2 jobs in flight") as refused:
        admit_start("inv-3", "alice", FAR, store, no_redis)
    admit_start("inv-1", "alice", FAR, store, no_redis)  # sent again: it exists
    admit_start("inv-4", "bob", FAR, store, no_redis)
    store.resolve("doc/inv-1", {})  # one ends
    admit_start("inv-3", "alice", FAR, store, no_redis)

    assert refused.value.retry_after_seconds == IN_FLIGHT_RETRY_AFTER_SECONDS


def test_a_requester_over_its_start_rate_is_told_how_long_to_wait(limited: MemoryStore) -> None:
    rate = Counters(free=1, wait_ms=1500)
    admit_start("inv-1", "alice", FAR, limited, rate)

    with pytest.raises(TooManyRequests, match="faster than 120 a minute") as refused:
        admit_start("inv-2", "alice", FAR, limited, rate)

    assert refused.value.retry_after_seconds == 2  # 1.5 s, rounded up
