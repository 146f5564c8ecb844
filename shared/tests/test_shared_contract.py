"""The shared package: ids, models, the status mapping and settings."""

from __future__ import annotations

import base64
import pickle
from pathlib import Path

import pytest
from docflow_shared.errors import JobEnded
from docflow_shared.ids import job_id_of, workflow_id
from docflow_shared.models import ApprovalDecision, JobFailure, JobRequest, JobStatusName
from docflow_shared.settings import (
    NotifierSettings,
    ServiceSettings,
    SettingsError,
    StatusSettings,
    TriggerSettings,
    WorkerSettings,
    forget_settings,
)
from docflow_shared.status import job_status
from docflow_shared.workflow import (
    LATEST_WORKFLOW_VERSION,
    checkpoint_value,
    named_checkpoint,
    steps_of,
)
from docflow_shared.workflow_history import JobHistory, error_type
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from resonate.ids import validate_root_id

pytestmark = pytest.mark.unit

job_ids = st.text(alphabet="abcXYZ019._:-", min_size=1, max_size=128)


@given(job_ids)
def test_every_valid_job_id_maps_to_one_sdk_valid_workflow_id_and_back(job_id: str) -> None:
    wid = workflow_id(job_id)

    assert wid.startswith("doc/")
    assert validate_root_id(wid) == wid
    assert "." not in wid
    assert job_id_of(wid) == job_id


def test_distinct_job_ids_never_share_a_workflow() -> None:
    assert workflow_id("a:b") != workflow_id("a.b") != workflow_id("a-b")
    assert workflow_id("demo-1") == "doc/demo-1"


@pytest.mark.parametrize("bad", ["", "x" * 129, "has space", "slash/", "ümlaut", "%3A"])
def test_an_invalid_job_id_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid job id"):
        workflow_id(bad)


@pytest.mark.parametrize("other", ["doc/a:1", "doc/a%3", "job/a", "doc/", "doc/a.b"])
def test_child_and_foreign_promise_ids_belong_to_no_job(other: str) -> None:
    assert job_id_of(other) is None


def valid_request(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "jobId": "demo-1",
        "documentUrl": "https://example.com/doc.pdf",
        "requesterId": "alice",
        "type": "invoice",
    }
    body.update(overrides)
    return body


def test_a_job_request_reads_the_wire_names_and_fills_defaults() -> None:
    job = JobRequest.model_validate(valid_request())

    assert job.as_workflow_input("alice") == {
        "jobId": "demo-1",
        "documentUrl": "https://example.com/doc.pdf",
        "requesterId": "alice",
        "type": "invoice",
        "callbackUrl": None,
        "requireApproval": False,
        "deadlineSeconds": None,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jobId", "bad id"),
        ("documentUrl", "ftp://example.com/x.pdf"),
        ("documentUrl", "not a url"),
        ("type", "poem"),
        ("requesterId", "   "),
        ("callbackUrl", "s3://bucket/hook"),
        ("deadlineSeconds", 0),
        ("unexpected", 1),
    ],
)
def test_an_invalid_job_request_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        JobRequest.model_validate(valid_request(**{field: value}))

    assert field in str(info.value)


@pytest.mark.parametrize(
    ("state", "waiting", "expected"),
    [
        ("pending", False, JobStatusName.PROCESSING),
        ("pending", True, JobStatusName.AWAITING_APPROVAL),
        ("resolved", False, JobStatusName.DONE),
        ("rejected", False, JobStatusName.FAILED),
        ("rejected_canceled", False, JobStatusName.CANCELED),
        ("rejected_timedout", False, JobStatusName.TIMED_OUT),
        ("resolved", True, JobStatusName.DONE),
    ],
)
def test_promise_states_map_to_job_statuses(
    state: str, waiting: bool, expected: JobStatusName
) -> None:
    assert job_status(state, awaiting_approval=waiting) is expected


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("rejected", JobStatusName.REJECTED),
        ("timed_out", JobStatusName.TIMED_OUT),
        ("canceled", JobStatusName.CANCELED),
        ("not_found", JobStatusName.FAILED),
        (None, JobStatusName.FAILED),
    ],
)
def test_a_job_the_workflow_ended_on_purpose_is_not_failed(
    reason: str | None, expected: JobStatusName
) -> None:
    assert job_status("rejected", reason=reason) is expected


def test_a_job_ending_survives_the_sdks_error_round_trip() -> None:
    # Steps' errors are pickled into their promise; the workflow's reason must come back intact.
    ended = pickle.loads(pickle.dumps(JobEnded("canceled", "canceled on request")))  # noqa: S301

    assert ended.status == "canceled"
    # What the root promise keeps of it, which the status reads back.
    assert JobFailure.model_validate_json(str(ended)) == JobFailure(
        reason="canceled", message="canceled on request"
    )


@pytest.mark.parametrize(
    "decision",
    [
        {"reviewer": "bob"},
        {"approved": True, "reviewer": "  "},
        {"approved": "maybe", "reviewer": "bob"},
        {"approved": "yes", "reviewer": "bob"},
        {"approved": 1, "reviewer": "bob"},
        {"approved": True, "reviewer": "bob", "extra": 1},
        # Corrections: only with an approval, only of the fields a reviewer corrects, each
        # written as the analyzer writes it.
        {"approved": False, "reviewer": "bob", "fields": {"total": "1.00"}},
        {"approved": True, "reviewer": "bob", "fields": {"colour": "red"}},
        {"approved": True, "reviewer": "bob", "fields": {"total": "1.234,56"}},
        {"approved": True, "reviewer": "bob", "fields": {"total": "NaN"}},
        {"approved": True, "reviewer": "bob", "fields": {"date": "05/03/2024"}},
        {"approved": True, "reviewer": "bob", "fields": {"currency": "€"}},
        {"approved": True, "reviewer": "bob", "fields": {"vendor": "  "}},
        {"approved": True, "reviewer": "bob", "fields": {"vendor": "x" * 201}},
    ],
)
def test_an_invalid_approval_decision_is_refused(decision: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ApprovalDecision.model_validate(decision)


def test_a_reviewers_corrections_are_taken_as_written() -> None:
    fields = {"total": "1234.56", "date": "2024-03-05", "currency": "EUR", "vendor": "ACME Ltd",
              "number": "INV-7", "merchant": "Corner Coffee"}  # fmt: skip
    decision = ApprovalDecision.model_validate({"approved": True, "fields": fields})
    assert decision.fields == fields


def test_an_unknown_promise_state_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="unknown promise state"):
        job_status("sideways")


def test_settings_read_the_documented_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESONATE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DOCFLOW_URL_ALLOWLIST", "127.0.0.1, files.internal ,10.0.0.0/8")
    monkeypatch.setenv("DOCFLOW_TASK_TTL", "4.5")
    monkeypatch.setenv("DOCFLOW_API_TOKEN", "s3cret")

    worker, trigger = WorkerSettings.from_environment(), TriggerSettings.from_environment()

    assert worker.resonate_url == "http://127.0.0.1:9"
    assert worker.url_allowlist == ["127.0.0.1", "files.internal", "10.0.0.0/8"]
    assert worker.task_ttl_seconds == 4.5
    assert trigger.api_token is not None
    assert trigger.api_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(trigger)


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        (TriggerSettings, "RESONATE_URL"),
        (StatusSettings, "RESONATE_URL"),
        (WorkerSettings, "RESONATE_URL"),
        (WorkerSettings, "REDIS_URL"),
        (WorkerSettings, "DOCFLOW_BUCKET"),
        (NotifierSettings, "REDIS_URL"),
    ],
)
def test_a_deployment_value_has_no_default_and_its_absence_is_named(
    monkeypatch: pytest.MonkeyPatch, model: type[ServiceSettings], variable: str
) -> None:
    monkeypatch.delenv(variable, raising=False)
    forget_settings()

    with pytest.raises(SettingsError, match=f"{variable} is required"):
        model.current()
    forget_settings()


def test_a_bad_setting_names_the_variable_not_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCFLOW_TASK_TTL", "-17")
    forget_settings()

    with pytest.raises(
        SettingsError, match="DOCFLOW_TASK_TTL: Input should be greater than 0"
    ) as bad:
        WorkerSettings.current()
    assert "-17" not in str(bad.value)
    forget_settings()


def test_no_setting_is_read_from_a_dotenv_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("DOCFLOW_WORKER_GROUP=from-a-file\n")
    monkeypatch.chdir(tmp_path)

    assert TriggerSettings.from_environment().worker_group == "workers"


def test_an_empty_api_token_means_no_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    # compose.yaml passes DOCFLOW_API_TOKEN through as "" when the user set none.
    monkeypatch.setenv("DOCFLOW_API_TOKEN", "")

    assert StatusSettings.from_environment().api_token is None


def test_the_demo_step_delay_is_no_setting_of_any_service() -> None:
    for model in (TriggerSettings, StatusSettings, WorkerSettings, NotifierSettings):
        aliases = {str(f.validation_alias) for f in model.model_fields.values()}
        assert not any("DEMO" in alias for alias in aliases), model


def test_each_workflow_version_has_its_steps_and_review_comes_right_before_store() -> None:
    assert [str(s) for s in steps_of(1, needs_approval=True)] == [
        "download", "extract", "analyze", "review", "store", "notify"]  # fmt: skip
    assert [str(s) for s in steps_of(2, needs_approval=False)] == [
        "download", "extract", "analyze", "verify", "store", "notify"]  # fmt: skip
    assert steps_of(99, needs_approval=False) == steps_of(LATEST_WORKFLOW_VERSION, False)


def test_a_checkpoint_names_its_step_and_one_written_before_names_none() -> None:
    assert checkpoint_value(named_checkpoint("analyze", {"a": 1})) == ("analyze", {"a": 1})
    assert checkpoint_value({"a": 1}) == (None, {"a": 1})
    assert checkpoint_value("https://x/result.json") == (None, "https://x/result.json")


class Unloadable(Exception):
    """Its pickle names it; loading that pickle would run this module's code."""


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_the_type_of_a_pickled_error_is_read_without_loading_the_pickle(protocol: int) -> None:
    pickled = base64.b64encode(pickle.dumps(Unloadable("x"), protocol=protocol)).decode()

    assert error_type(pickled) == f"{__name__}.Unloadable"
    assert error_type("not base64!") is None
    assert error_type(base64.b64encode(b"\x80\x05garbage").decode()) is None


def test_a_history_reads_back_as_it_was_exported() -> None:
    exported = {"format": "docflow-history/1", "jobId": "j-1", "workflowVersion": 2,
                "promises": [{"id": "doc/j-1", "state": "pending", "timeoutAt": 9},
                             {"id": "doc/j-1:1", "state": "resolved", "timeoutAt": 9,
                              "value": {"docflow:step": "download", "value": {}},
                              "tags": {"resonate:scope": "local"}}]}  # fmt: skip

    history = JobHistory.model_validate(exported)

    assert (history.root.id, [c.id for c in history.children]) == ("doc/j-1", ["doc/j-1:1"])
    assert history.children[0].value == exported["promises"][1]["value"]
    assert JobHistory.model_validate_json(history.model_dump_json(by_alias=True)) == history
    with pytest.raises(ValidationError):
        JobHistory.model_validate({**exported, "format": "docflow-history/0"})
