"""The dev server's engine answers exactly as the SDK's in-process reference server does, but
where the real server answers otherwise (``as_the_real_server``).

Hypothesis generates request sequences over a small id space (so creates collide, tasks get
re-acquired, leases lapse, promises time out) and drives both with the same clock. Every answer
and every outgoing message must be identical; requests the reference refuses with an exception
must be refused by the engine with the same status.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from docflow_resonate_dev.engine import Engine
from docflow_resonate_dev.fields import ProtocolError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from resonate.connections.local import ServerState
from resonate.error import ServerError

pytestmark = pytest.mark.unit

# Few ids, "a" most often, so requests keep meeting the same promises and tasks.
IDS = ["a", "a", "a", "a:1", "a:1", "a:2", "b"]
PIDS = ["w1", "w2"]
TARGET = "poll://any@workers"
STATES = ["resolved", "rejected", "rejected_canceled", "bogus", None]

# Deadlines relative to "now": already past, soon, far away, or absent.
deadlines = st.sampled_from([-1, 500, 5_000, 45_000, None])


@st.composite
def promise_create_data(draw: st.DrawFn) -> dict[str, Any]:
    promise_id = draw(st.sampled_from(IDS))
    origin = promise_id.split(":", 1)[0]
    tags: dict[str, Any] = {"resonate:origin": origin, "resonate:branch": origin}
    if draw(st.booleans()):
        tags["resonate:target"] = TARGET
    if draw(st.integers(0, 4)) == 0:
        tags["resonate:timer"] = "true"
    if draw(st.integers(0, 6)) == 0:
        tags["resonate:delay"] = str(draw(st.sampled_from([0, 2_000, 10**13])))
    if draw(st.integers(0, 8)) == 0:
        tags["odd"] = 7  # non-string tag values are dropped
    data: dict[str, Any] = {"id": promise_id, "param": {"data": draw(st.integers(0, 9))}}
    data["tags"] = tags
    deadline = draw(deadlines)
    if deadline is not None:
        data["timeoutAt"] = ("now", deadline)
    return data


# Weighted: the task lifecycle is where the subtle transitions are.
KINDS = [
    *["promise.create"] * 4,
    *["task.create"] * 3,
    *["task.acquire"] * 4,
    *["task.fulfill"] * 3,
    *["task.suspend"] * 3,
    *["task.fence"] * 3,
    *["tick"] * 3,
    "promise.get",
    "promise.settle",
    "promise.settle",
    "promise.register_listener",
    "task.release",
    "task.release",
    "task.heartbeat",
    # No schedules: the reference stores them and never fires them; this server fires them as
    # the real one does (test_dev_server_parity).
    "bogus.kind",
]


def sub(kind: str, data: Any) -> dict[str, Any]:
    return {"kind": kind, "head": {"corrId": "sub", "version": "2026-04-01"}, "data": data}


@st.composite
def requests(draw: st.DrawFn, ref: ServerState) -> dict[str, Any]:
    """A request, its ids and versions mostly taken from what the reference holds now."""
    kind = draw(st.sampled_from(KINDS))
    existing = sorted(ref.tasks if kind.startswith("task.") else ref.promises)
    known = bool(existing) and draw(st.integers(0, 4)) > 0
    ids = st.sampled_from(existing if known else IDS)
    # The version a task op names: usually the task's current one, sometimes a stale one.
    current = [ref.tasks[i].version for i in existing if i in ref.tasks]
    versions = st.sampled_from(current if current and draw(st.booleans()) else [0, 1, 2])
    req: dict[str, Any] = {"kind": kind, "corrId": "c"}
    pid = draw(st.sampled_from(PIDS))
    if kind in ("promise.get", "task.release", "task.acquire"):
        req["id"] = draw(ids)
        if kind == "task.acquire":
            req.update(pid=pid, ttl=draw(st.sampled_from([0, 1_000, 60_000, 2**64 - 1])))
        req["version"] = draw(versions)
    elif kind == "promise.create":
        req.update(draw(promise_create_data()))
    elif kind == "promise.settle":
        req.update(id=draw(ids), state=draw(st.sampled_from(STATES)), value={"data": 1})
    elif kind == "promise.register_listener":
        req.update(awaited=draw(ids), address=f"poll://uni@client/{pid}")
    elif kind == "task.create":
        req.update(pid=pid, ttl=draw(st.sampled_from([1_000, 60_000])))
        req["action"] = sub("promise.create", draw(promise_create_data()))
    elif kind == "task.fulfill":
        req.update(id=draw(ids), version=draw(versions))
        settle = {"id": draw(ids), "state": draw(st.sampled_from(STATES)), "value": {"data": 2}}
        req["action"] = sub("promise.settle", settle)
    elif kind == "task.fence":
        req.update(id=draw(ids), version=draw(versions))
        if draw(st.booleans()):
            req["action"] = sub("promise.create", draw(promise_create_data()))
        else:
            settle = {"id": draw(ids), "state": "resolved", "value": {"data": 3}}
            req["action"] = sub(draw(st.sampled_from(["promise.settle", "promise.nope"])), settle)
    elif kind == "task.suspend":
        task_id = draw(ids)
        awaited = draw(st.lists(ids, max_size=2))
        req.update(id=task_id, version=draw(versions))
        req["actions"] = [
            sub("promise.register_callback", {"awaited": a, "awaiter": task_id}) for a in awaited
        ]
    elif kind == "task.heartbeat":
        req.update(pid=pid, tasks=[{"id": draw(ids), "version": draw(versions)}])
    if draw(st.integers(0, 30)) == 0:
        req.pop("id", None)  # a missing required field
    req["advance"] = draw(st.sampled_from([0, 0, 0, 1, 700, 1_500, 31_000, 70_000]))
    return req


def resolve_now(value: Any, now: int) -> Any:
    """Turn the ("now", offset) placeholders into absolute times."""
    if isinstance(value, tuple) and value and value[0] == "now":
        return now + value[1]
    if isinstance(value, dict):
        return {k: resolve_now(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_now(v, now) for v in value]
    return value


def normalized(messages: list[Any]) -> list[str]:
    return sorted(json.dumps([m.address, m.message], sort_keys=True) for m in messages)


def apply_reference(ref: ServerState, now: int, req: dict[str, Any]) -> Any:
    try:
        return as_the_real_server(req, ref.apply(now, req))
    except ServerError as exc:
        return ("refused", exc.code)


def as_the_real_server(req: dict[str, Any], answer: Any) -> Any:
    """Where the reference and the real server (resonatehq/resonate v0.9.8) disagree, the dev
    server answers as the real one does: the reference's answer, so corrected."""
    if req["kind"] == "promise.register_listener" and answer.get("status") == 404:
        return {**answer, "error": "Awaited promise not found"}  # src/server.rs:911-918
    return answer


def apply_engine(engine: Engine, now: int, req: dict[str, Any]) -> Any:
    try:
        return engine.apply(now, req)
    except ProtocolError as exc:
        return ("refused", exc.status)


def drive_both(requests_: list[dict[str, Any]]) -> None:
    """Apply each request (or tick) to the reference and the engine; they must agree."""
    ref = ServerState()
    engine = Engine(":memory:")
    now = 1_700_000_000_000
    try:
        for step, generated in enumerate(requests_):
            now += generated.pop("advance", 0)
            req = resolve_now(generated, now)
            if req["kind"] == "tick":
                ref.outgoing.clear()
                ref.tick(now)
                ref_out, eng_out = ref.outgoing, engine.tick(now)
                assert normalized(eng_out) == normalized(ref_out), f"tick at step {step}"
                continue
            expected = apply_reference(ref, now, json.loads(json.dumps(req)))
            actual = apply_engine(engine, now, json.loads(json.dumps(req)))
            assert actual == expected, f"step {step}: {req}"
            if isinstance(expected, dict):
                assert normalized(engine.outgoing) == normalized(ref.outgoing), f"step {step}"
    finally:
        engine.close()


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_engine_answers_every_request_sequence_like_the_reference(data: st.DataObject) -> None:
    # The generator reads the reference's state to pick ids, so it drives it itself.
    ref = ServerState()
    shadow: list[dict[str, Any]] = []
    now = 1_700_000_000_000
    for step in range(data.draw(st.integers(min_value=5, max_value=60), label="length")):
        generated = data.draw(requests(ref), label=f"request {step}")
        shadow.append(json.loads(json.dumps(generated)))
        now += generated.pop("advance")
        req = resolve_now(generated, now)
        if req["kind"] == "tick":
            ref.tick(now)
        else:
            apply_reference(ref, now, req)
    drive_both(shadow)


def test_a_task_whose_dependency_settled_while_it_ran_is_redirected_not_suspended() -> None:
    create = sub_flat("task.create", pid="w1", ttl=60_000)
    create["action"] = sub(
        "promise.create",
        {"id": "a", "timeoutAt": ("now", 10**9), "tags": {"resonate:target": TARGET}},
    )
    child = {"kind": "promise.create", "corrId": "c", "id": "a:1", "timeoutAt": ("now", 10**9)}
    child2 = {**child, "id": "a:2"}
    await_both = sub_flat("task.suspend", id="a", version=0)
    await_both["actions"] = [
        sub("promise.register_callback", {"awaited": "a:1", "awaiter": "a"}),
        sub("promise.register_callback", {"awaited": "a:2", "awaiter": "a"}),
    ]
    drive_both(
        [
            create,
            child,
            child2,
            sub_flat("promise.settle", id="a:1", state="resolved", value={"data": 1}),
            await_both,  # a:1 is settled: redirect, but a now awaits a:2 too
            sub_flat("promise.settle", id="a:2", state="resolved", value={"data": 2}),
            sub_flat("task.suspend", id="a", version=0, actions=[]),  # a:2 settled meanwhile
            sub_flat("task.fulfill", id="a", version=0, action=sub("promise.settle", {"id": "a"})),
        ]
    )


def test_a_durable_sleep_resolves_at_its_deadline_and_wakes_its_sleeper() -> None:
    create = sub_flat("task.create", pid="w1", ttl=60_000)
    create["action"] = sub(
        "promise.create",
        {"id": "a", "timeoutAt": ("now", 10**9), "tags": {"resonate:target": TARGET}},
    )
    timer = sub_flat(
        "task.fence",
        id="a",
        version=0,
        action=sub(
            "promise.create",
            {
                "id": "a:1",
                "timeoutAt": ("now", 1_000),
                "tags": {"resonate:target": TARGET, "resonate:timer": "true"},
            },
        ),
    )
    sleep = sub_flat("task.suspend", id="a", version=0)
    sleep["actions"] = [sub("promise.register_callback", {"awaited": "a:1", "awaiter": "a"})]
    drive_both([create, timer, sleep, {"kind": "tick", "advance": 1_001}])


def sub_flat(kind: str, **data: Any) -> dict[str, Any]:
    return {"kind": kind, "corrId": "c", **data}


def test_a_lapsed_lease_is_redelivered_with_a_new_version() -> None:
    """A hand-written case the generator also covers, kept as readable documentation."""
    engine = Engine(":memory:")
    now = 1_000
    create = {
        "kind": "promise.create",
        "corrId": "c",
        "id": "job",
        "timeoutAt": 10**12,
        "tags": {"resonate:target": TARGET},
    }
    assert engine.apply(now, create)["status"] == 201
    acquired = engine.apply(now, {"kind": "task.acquire", "id": "job", "pid": "w1", "ttl": 500})
    assert acquired["task"]["state"] == "acquired"

    redelivered = engine.tick(now + 501)

    assert [m.message for m in redelivered] == [
        {"kind": "execute", "data": {"task": {"id": "job", "version": 1}}}
    ]
    again = engine.apply(now + 502, {"kind": "task.acquire", "id": "job", "pid": "w2", "ttl": 500})
    assert again["task"] == {
        "id": "job",
        "state": "acquired",
        "version": 1,
        "promiseId": "job",
        "pid": "w2",
        "ttl": 500,
    }


def test_a_request_that_fails_midway_leaves_no_trace_and_the_next_one_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = Engine(":memory:")
    create = sub_flat("task.create", pid="w1", ttl=1000)
    create["action"] = sub("promise.create", {"id": "a", "timeoutAt": 10**13, "tags": {}})

    def broken(task: object) -> None:
        raise OSError("disk on fire")

    with monkeypatch.context() as patch:
        patch.setattr(engine, "_save_task", broken)
        with pytest.raises(OSError, match="disk on fire"):
            engine.apply(1, create)

    assert engine.apply(2, sub_flat("promise.get", id="a"))["status"] == 404
    assert engine.apply(3, create)["status"] == 201


def test_listing_a_workflows_children_uses_the_parent_index() -> None:
    engine = Engine(":memory:")
    for promise_id, parent in [("r", "r"), ("r:1", "r"), ("r:2", "r"), ("s:1", "s")]:
        engine.apply(1, sub_flat("promise.create", id=promise_id, timeoutAt=10**13,
                                 tags={"resonate:parent": parent}))  # fmt: skip

    found = engine.apply(2, sub_flat("promise.search", tags={"resonate:parent": "r"}))
    plan = engine.db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM promises WHERE parent = ? ORDER BY id LIMIT 5", ("r",)
    ).fetchall()

    assert [p["id"] for p in found["promises"]] == ["r", "r:1", "r:2"]
    assert "promises_by_parent" in str(plan)
