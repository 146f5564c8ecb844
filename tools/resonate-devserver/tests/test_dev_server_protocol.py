"""The dev server's wire surface: envelopes, errors, SSE delivery, search, callbacks, health."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from docflow_testing.processes import free_port, resonate_server
from docflow_testing.protocol import FAR, VERSION, call, post, sse_frames, unique, wait_for

pytestmark = pytest.mark.integration


def test_the_http_status_mirrors_the_envelope_status(resonate_url: str) -> None:
    promise_id = unique("p")
    created, data = call(resonate_url, "promise.create", id=promise_id, timeoutAt=FAR)
    again, _ = call(resonate_url, "promise.create", id=promise_id, timeoutAt=FAR)
    missing, error = call(resonate_url, "promise.get", id=unique("nope"))

    assert (created, again, missing) == (201, 200, 404)
    assert data["promise"]["state"] == "pending"
    assert "not found" in error


def envelope(kind: str = "promise.get", data: Any = None, **head: str) -> str:
    head = head if head else {"corrId": "x", "version": VERSION}
    return json.dumps({"kind": kind, "head": head, "data": {} if data is None else data})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "Invalid request envelope"),
        ("[1, 2]", "Invalid request envelope"),
        (json.dumps({"kind": "promise.get", "data": {}}), "missing field `head`"),
        (envelope(corrId="x"), "missing field `version`"),
        (envelope(corrId="x", version="1999"), "Unsupported protocol version '1999'"),
        (envelope(kind=""), "Missing or invalid 'kind'"),
        (envelope(data=3), "Invalid 'data' field"),
        (envelope(kind="promise.teleport"), "Unknown operation: promise.teleport"),
        (envelope(), "missing or empty required field: id"),
    ],
)
def test_a_malformed_request_gets_a_400_with_a_clear_message(
    resonate_url: str, body: str, message: str
) -> None:
    status, answer = post(resonate_url, body)

    assert status == 400
    assert answer["head"]["status"] == 400
    assert message in answer["data"]


def test_a_body_over_10_mb_is_refused_with_413(resonate_url: str) -> None:
    status, answer = post(resonate_url, b" " * (10 * 1024 * 1024 + 1))

    assert status == 413
    assert "exceeds" in answer["data"]


def test_health_ready_legacy_and_unknown_routes(resonate_url: str) -> None:
    def get(path: str) -> int:
        try:
            with urllib.request.urlopen(resonate_url + path, timeout=5) as resp:  # noqa: S310
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return err.code

    assert [get("/health"), get("/ready"), get("/promises/x"), get("/nowhere")] == [
        200,
        200,
        410,
        404,
    ]


def test_an_execute_message_reaches_a_poller_of_the_target_group(resonate_url: str) -> None:
    group, frames = unique("grp"), []
    sse_frames(resonate_url, group, "w1", frames)
    task_id = unique("job")

    call(resonate_url, "promise.create", id=task_id, timeoutAt=FAR,
         tags={"resonate:target": f"poll://any@{group}"})  # fmt: skip

    assert wait_for(frames, 1)[0] == {
        "kind": "execute",
        "head": {"serverUrl": resonate_url},
        "data": {"task": {"id": task_id, "version": 0}},
    }


def test_a_listener_is_unblocked_when_its_promise_settles(resonate_url: str) -> None:
    frames: list[dict[str, Any]] = []
    sse_frames(resonate_url, "clients", "c1", frames)
    promise_id = unique("p")
    call(resonate_url, "promise.create", id=promise_id, timeoutAt=FAR)
    call(resonate_url, "promise.register_listener", awaited=promise_id,
         address="poll://uni@clients/c1")  # fmt: skip

    call(resonate_url, "promise.settle", id=promise_id, state="resolved", value={"data": "eA=="})

    [frame] = wait_for(frames, 1)
    assert frame["kind"] == "unblock"
    assert frame["data"]["promise"]["id"] == promise_id
    assert frame["data"]["promise"]["state"] == "resolved"


def test_promise_search_filters_by_state_and_tags_and_pages_by_cursor(resonate_url: str) -> None:
    tag = unique("batch")
    for i in range(5):
        call(resonate_url, "promise.create", id=f"{tag}-{i}", timeoutAt=FAR, tags={"batch": tag})
    call(resonate_url, "promise.settle", id=f"{tag}-3", state="resolved")

    status, first = call(
        resonate_url, "promise.search", state="pending", tags={"batch": tag}, limit=2
    )
    _, second = call(resonate_url, "promise.search", state="pending", tags={"batch": tag}, limit=2,
                     cursor=first["cursor"])  # fmt: skip
    _, resolved = call(resonate_url, "promise.search", state="resolved", tags={"batch": tag})
    bad, _ = call(resonate_url, "promise.search", limit=1001)

    assert status == 200
    assert [p["id"] for p in first["promises"]] == [f"{tag}-0", f"{tag}-1"]
    assert [p["id"] for p in second["promises"]] == [f"{tag}-2", f"{tag}-4"]
    assert "cursor" not in second
    assert [p["id"] for p in resolved["promises"]] == [f"{tag}-3"]
    assert bad == 400


def test_a_registered_callback_resumes_the_awaiting_task(resonate_url: str) -> None:
    group, frames = unique("grp"), []
    sse_frames(resonate_url, group, "w1", frames)
    root, dep = unique("root"), unique("dep")
    target = {"resonate:target": f"poll://any@{group}"}
    call(resonate_url, "promise.create", id=root, timeoutAt=FAR, tags=target)
    call(resonate_url, "task.acquire", id=root, version=0, pid="w1", ttl=60_000)
    call(resonate_url, "promise.create", id=dep, timeoutAt=FAR)
    assert call(resonate_url, "task.suspend", id=root, version=0, actions=[])[0] == 200

    status, data = call(resonate_url, "promise.register_callback", awaited=dep, awaiter=root)
    call(resonate_url, "promise.settle", id=dep, state="resolved")

    assert status == 200
    assert data["promise"]["id"] == dep
    executes = [f["data"]["task"] for f in wait_for(frames, 2) if f["kind"] == "execute"]
    assert executes == [{"id": root, "version": 0}, {"id": root, "version": 1}]
    assert call(resonate_url, "promise.register_callback", awaited=dep, awaiter=dep)[0] == 400
    assert (
        call(resonate_url, "promise.register_callback", awaited=unique("x"), awaiter=root)[0] == 404
    )


def test_everything_survives_a_kill_9_of_the_server(tmp_path: Path) -> None:
    store, port = str(tmp_path / "r.db"), free_port()
    server, url = resonate_server(store, tmp_path / "server.log", port)
    target = {"resonate:target": "poll://any@nobody"}
    call(url, "promise.create", id="job", timeoutAt=FAR, tags={**target, "resonate:branch": "job"})
    call(url, "task.acquire", id="job", version=0, pid="w1", ttl=600_000)
    call(url, "promise.create", id="job:1", timeoutAt=FAR, tags={"resonate:branch": "job"})
    call(url, "task.suspend", id="job", version=0,
         actions=[{"kind": "promise.register_callback", "head": {"corrId": "s", "version": VERSION},
                   "data": {"awaited": "job:1", "awaiter": "job"}}])  # fmt: skip
    call(url, "schedule.create", id="nightly", cron="0 2 * * *", promiseId="n", promiseTimeout=1,
         promiseTags=target)  # fmt: skip

    server.kill9()
    server, url = resonate_server(store, tmp_path / "server.log", port)
    try:
        settled = call(url, "promise.settle", id="job:1", state="resolved")
        # The suspended task was still waiting for job:1, so it is pending again at version 1.
        acquired = call(url, "task.acquire", id="job", version=1, pid="w2", ttl=1000)
        schedule = call(url, "schedule.get", id="nightly")
    finally:
        server.kill9()

    assert settled[0] == 200
    assert acquired[0] == 200
    assert acquired[1]["task"]["version"] == 1
    assert [(p["id"], p["state"]) for p in acquired[1]["preload"]] == [("job:1", "resolved")]
    assert schedule[0] == 200


def test_a_port_in_use_is_named_in_the_error(tmp_path: Path) -> None:
    server = str(Path(sys.executable).parent / "docflow-resonate")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [server, "dev", "--server-port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
