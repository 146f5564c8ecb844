"""GET /status reads a job's progress from Resonate alone: the root promise and its children."""

from __future__ import annotations

import base64
import json
import pickle
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from docflow_shared.errors import StepFailed
from docflow_shared.ids import workflow_id
from docflow_shared.lambda_context import LambdaContext
from docflow_shared.resonate_http import encode_value
from docflow_shared.settings import forget_settings
from docflow_shared.workflow_history import JobHistory
from docflow_status.dal import workflows as workflows_dal
from docflow_status.handlers.http import lambda_handler
from docflow_testing.events import api_event
from docflow_testing.processes import valkey_server
from docflow_testing.protocol import FAR, call

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def settings(resonate_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RESONATE_URL", resonate_url)
    monkeypatch.delenv("DOCFLOW_API_TOKEN", raising=False)
    forget_settings()
    yield
    forget_settings()


def status_of(job_id: str) -> tuple[int, dict[str, Any]]:
    answer = lambda_handler(api_event("GET", f"/status/{job_id}"), LambdaContext("test"))
    return answer["statusCode"], json.loads(answer["body"])


def start(resonate_url: str, job_id: str, finished_steps: int, running: bool) -> str:
    """A workflow as the SDK lays it out: the root, then one child per started step."""
    root = workflow_id(job_id)
    call(resonate_url, "promise.create", id=root, timeoutAt=FAR,
         tags={"resonate:target": "poll://any@nobody", "resonate:parent": root})  # fmt: skip
    for n in range(1, finished_steps + 1 + int(running)):
        child = f"{root}:{n}"
        call(resonate_url, "promise.create", id=child, timeoutAt=FAR,
             tags={"resonate:scope": "local", "resonate:parent": root})  # fmt: skip
        if n <= finished_steps:
            call(resonate_url, "promise.settle", id=child, state="resolved", value={})
    return root


def test_a_running_job_shows_its_current_step(resonate_url: str) -> None:
    job_id = f"st-{uuid.uuid4().hex[:8]}"
    start(resonate_url, job_id, finished_steps=2, running=True)

    code, body = status_of(job_id)

    assert code == 200
    assert body["status"] == "processing"
    assert body["step"] == "analyze"
    assert [s["state"] for s in body["steps"]] == ["done", "done", "running", "pending", "pending"]


def test_a_canceled_job_shows_the_interrupted_step_as_failed_not_running(resonate_url: str) -> None:
    job_id = f"st-{uuid.uuid4().hex[:8]}"
    root = start(resonate_url, job_id, finished_steps=1, running=True)
    call(resonate_url, "promise.settle", id=root, state="rejected_canceled", value={})

    _, body = status_of(job_id)

    assert body["status"] == "canceled"
    assert body["step"] == "extract"
    assert [s["state"] for s in body["steps"]] == [
        "done",
        "failed",
        "pending",
        "pending",
        "pending",
    ]
    assert body["error"]["reason"] == "rejected_canceled"


def test_an_unknown_job_is_404_and_an_invalid_id_is_400(resonate_url: str) -> None:
    assert status_of("never-started")[0] == 404
    assert status_of("bad id")[0] == 400


def as_caller(event: dict[str, Any], sub: str, *groups: str) -> dict[str, Any]:
    """The event as a JWT authorizer hands it over: the caller's claims, as strings."""
    claims = {"sub": sub, "cognito:groups": "[" + " ".join(groups) + "]"}
    event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


def job_of(resonate_url: str, requester: str, version: int = 1) -> str:
    """A job requested by ``requester``, as the trigger starts it (its request in the root),
    at workflow ``version``."""
    job_id = f"own-{uuid.uuid4().hex[:8]}"
    request = {"func": "process_document", "args": [{"jobId": job_id, "requesterId": requester}],
               "kwargs": {}, "version": version}  # fmt: skip
    call(resonate_url, "promise.create", id=workflow_id(job_id), timeoutAt=FAR,
         param=encode_value(request), tags={"docflow:kind": "job"})  # fmt: skip
    return job_id


def test_a_verified_caller_sees_its_own_jobs_only_and_an_admin_all(resonate_url: str) -> None:
    alices, bobs = job_of(resonate_url, "alice"), job_of(resonate_url, "bob")
    context = LambdaContext("test")

    def status(job_id: str, sub: str, *groups: str) -> int:
        event = as_caller(api_event("GET", f"/status/{job_id}"), sub, *groups)
        return int(lambda_handler(event, context)["statusCode"])

    def listed(sub: str, *groups: str) -> set[str]:
        event = as_caller(api_event("GET", "/jobs"), sub, *groups)
        event["queryStringParameters"] = {"limit": "100"}
        answer = lambda_handler(event, context)
        return {job["jobId"] for job in json.loads(answer["body"])["jobs"]}

    assert (status(alices, "alice"), status(bobs, "alice")) == (200, 404)
    missing = json.loads(lambda_handler(as_caller(api_event("GET", f"/status/{bobs}"), "alice"),
                                        context)["body"])  # fmt: skip
    assert missing["message"] == f"no job {bobs}", "another's job does not exist, for alice"
    assert status(bobs, "root", "admin") == 200
    assert alices in listed("alice")
    assert bobs not in listed("alice")
    assert {alices, bobs} <= listed("root", "admin")


def test_versions_counts_the_jobs_in_flight_on_each_and_the_live_workers_that_run_it(
    resonate_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, redis_url = valkey_server(tmp_path)
    try:
        monkeypatch.setenv("REDIS_URL", redis_url)
        monkeypatch.setenv("DOCFLOW_STUCK_AFTER", "0.1")  # no worker for 0.1 s: waiting
        forget_settings()
        workflows_dal._redis.cache_clear()
        live = redis.Redis.from_url(redis_url)
        live.set("docflow:workers:w-old", json.dumps({"versions": [1, 7], "seenAt": 1}), px=60_000)
        live.set("docflow:workers:w-new", json.dumps({"versions": [8], "seenAt": 1}), px=60_000)
        for _ in range(2):
            job_of(resonate_url, "alice", version=7)  # in flight
        ended = job_of(resonate_url, "alice", version=7)
        call(resonate_url, "promise.settle", id=workflow_id(ended), state="resolved", value={})
        orphan = job_of(resonate_url, "alice", version=9)
        context = LambdaContext("test")

        answer = lambda_handler(api_event("GET", "/versions"), context)
        refused = lambda_handler(as_caller(api_event("GET", "/versions"), "alice"), context)
        time.sleep(0.2)
        _, waiting = status_of(orphan)
    finally:
        workflows_dal._redis.cache_clear()
        server.kill9()

    listing = json.loads(answer["body"])
    by_version = {v["version"]: v for v in listing["versions"]}
    assert (answer["statusCode"], listing["countedAll"]) == (200, True)
    assert by_version[7] == {"version": 7, "jobsInFlight": 2, "workers": ["w-old"]}
    assert by_version[8] == {"version": 8, "jobsInFlight": 0, "workers": ["w-new"]}
    assert by_version[9] == {"version": 9, "jobsInFlight": 1, "workers": []}
    assert by_version[1]["workers"] == ["w-old"]
    assert listing["newest"] == 2
    assert refused["statusCode"] == 403, "the deployment's versions are an admin's to see"
    assert (waiting["workflowVersion"], waiting["waitingReason"]) == (
        9, "no live worker has workflow version 9")  # fmt: skip


def test_a_jobs_history_is_exported_in_call_order_with_errors_readable_and_no_pickle(
    resonate_url: str,
) -> None:
    job_id = job_of(resonate_url, "alice", version=2)
    root = workflow_id(job_id)
    for n in (1, 2, 10):  # created out of order: exported in call order, 10 after 2
        call(resonate_url, "promise.create", id=f"{root}:{n}", timeoutAt=FAR,
             tags={"resonate:scope": "local", "resonate:parent": root})  # fmt: skip
    call(resonate_url, "promise.settle", id=f"{root}:1", state="resolved",
         value=encode_value({"docflow:step": "download", "value": {"key": "k"}}))  # fmt: skip
    failure = StepFailed("internal_error", "analyze failed: KeyError: 'x'")
    pickled = base64.b64encode(pickle.dumps(failure)).decode()
    call(resonate_url, "promise.settle", id=f"{root}:2", state="rejected", value=encode_value(
        {"__type": "error", "message": str(failure), "__py_pickle": pickled}))  # fmt: skip
    context = LambdaContext("test")

    answer = lambda_handler(api_event("GET", f"/jobs/{job_id}/history"), context)
    missing = lambda_handler(api_event("GET", "/jobs/no-such-job/history"), context)
    refused = lambda_handler(as_caller(api_event("GET", f"/jobs/{job_id}/history"), "alice"),
                             context)  # fmt: skip
    admin = lambda_handler(as_caller(api_event("GET", f"/jobs/{job_id}/history"), "root",
                                     "admin"), context)  # fmt: skip

    history = json.loads(answer["body"])
    assert answer["statusCode"] == 200
    assert (history["format"], history["jobId"], history["workflowVersion"]) == (
        "docflow-history/1", job_id, 2)  # fmt: skip
    assert [p["id"] for p in history["promises"]] == [root, f"{root}:1", f"{root}:2", f"{root}:10"]
    assert history["promises"][1]["value"] == {"docflow:step": "download", "value": {"key": "k"}}
    assert history["promises"][2]["value"] == {
        "__type": "error",
        "message": str(failure),
        "errorType": "docflow_shared.errors.StepFailed",
    }
    assert JobHistory.model_validate_json(answer["body"]).root.id == root, "it reads back"
    assert missing["statusCode"] == 404
    assert (refused["statusCode"], admin["statusCode"]) == (403, 200), "an admin's, when verified"


def test_a_page_picture_of_an_unknown_job_or_without_a_blob_store_is_not_found(
    resonate_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked before any blob store is asked: an unknown job, and a stack whose status function
    has no DOCFLOW_BUCKET (then no page has a picture) answer 404, never a 500."""
    monkeypatch.delenv("DOCFLOW_BUCKET", raising=False)
    forget_settings()
    job_id = f"st-{uuid.uuid4().hex[:8]}"
    start(resonate_url, job_id, finished_steps=2, running=True)

    unknown = f"nobody-{job_id}"
    no_picture = f"job {job_id} has no picture of page 1"
    for path, message in [(f"/jobs/{unknown}/pages/1", f"promise doc/{unknown} not found"),
                          (f"/jobs/{job_id}/pages/1", no_picture)]:  # fmt: skip
        answer = lambda_handler(api_event("GET", path), LambdaContext("test"))
        assert (answer["statusCode"], json.loads(answer["body"])["message"]) == (404, message)
    zero = lambda_handler(api_event("GET", f"/jobs/{job_id}/pages/0"), LambdaContext("test"))
    assert zero["statusCode"] == 422
