"""What the real Resonate server does beyond the protocol the SDK uses, done here too: addresses
are checked, tasks can be halted, continued, read and searched. Each expectation names the code
of the real server it matches (resonatehq/resonate v0.9.8, ``src/``)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docflow_testing.processes import free_port, resonate_server
from docflow_testing.protocol import FAR, VERSION, call, sse_frames, unique, wait_for
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

RETRY_MS = 300  # how often this module's server sends a pending task's execute message again


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of this module's own: its tasks are the only ones a search finds."""
    base: Path = tmp_path_factory.mktemp("parity")
    server, url = resonate_server(
        str(base / "resonate.db"), base / "server.log", None, "--tasks-retry-timeout", str(RETRY_MS)
    )
    yield url
    server.kill9()


def task_of(url: str, group: str) -> str:
    """A new promise whose task is for ``group``'s pollers: pending, at version 0."""
    task_id = unique("task")
    created = call(url, "promise.create", id=task_id, timeoutAt=FAR,
                   tags={"resonate:target": f"poll://any@{group}"})  # fmt: skip
    assert created[0] == 201, created
    return task_id


@pytest.mark.parametrize(
    "target",
    ["nonsense", "poll://workers", "poll://someone@workers", "http://", "gcps://project",
     "ftp://127.0.0.1/f", "http://127.0.0.1:port/f"],
)  # fmt: skip
def test_a_target_no_message_could_reach_is_refused(resonate_url: str, target: str) -> None:
    # server.rs:582-597 and transport/mod.rs:191-239
    created = call(resonate_url, "promise.create", id=unique("p"), timeoutAt=FAR,
                   tags={"resonate:target": target})  # fmt: skip
    action = {
        "kind": "promise.create",
        "head": {},
        "data": {"id": unique("t"), "timeoutAt": FAR, "tags": {"resonate:target": target}},
    }
    task = call(resonate_url, "task.create", pid="w1", ttl=1000, action=action)  # fmt: skip

    assert created == (400, "Invalid resonate:target address")
    assert task == (400, "Invalid resonate:target address")


@pytest.mark.parametrize(
    "target",
    ["poll://any@workers", "poll://uni@workers/w-1", "http://127.0.0.1:9/fn",
     "https://127.0.0.1/fn", "gcps://project/topic", "bash://docker/image"],
)  # fmt: skip
def test_every_kind_of_address_the_real_server_takes_is_taken(
    resonate_url: str, target: str
) -> None:
    created = call(resonate_url, "promise.create", id=unique("p"), timeoutAt=FAR,
                   tags={"resonate:target": target})  # fmt: skip

    assert created[0] == 201, created


def test_the_target_is_checked_before_a_repeated_create_is_answered(resonate_url: str) -> None:
    promise_id = unique("p")
    call(resonate_url, "promise.create", id=promise_id, timeoutAt=FAR)

    again = call(resonate_url, "promise.create", id=promise_id, timeoutAt=FAR,
                 tags={"resonate:target": "nonsense"})  # fmt: skip

    assert again == (400, "Invalid resonate:target address")


def test_a_listener_address_is_checked_before_its_promise_is_looked_up(resonate_url: str) -> None:
    # server.rs:882-894, then 911-918
    missing = unique("missing")
    bad = call(resonate_url, "promise.register_listener", awaited=missing, address="nonsense")
    good = call(resonate_url, "promise.register_listener", awaited=missing,
                address="poll://uni@client/c1")  # fmt: skip

    assert bad == (400, "Invalid listener address")
    assert good == (404, "Awaited promise not found")


def test_a_halted_task_is_sent_nothing_and_leased_to_nobody_until_it_is_continued(
    server_url: str,
) -> None:
    group, frames = unique("grp"), []
    sse_frames(server_url, group, "w1", frames)
    task_id = task_of(server_url, group)
    wait_for(frames, 1)

    assert call(server_url, "task.halt", id=task_id) == (200, {})
    assert call(server_url, "task.halt", id=task_id) == (200, {}), "halting again changes nothing"
    assert call(server_url, "task.get", id=task_id) == (
        200, {"task": {"id": task_id, "state": "halted", "version": 0, "resumes": 0}})  # fmt: skip
    sent = len(frames)
    time.sleep(RETRY_MS * 5 / 1000)  # a pending task would have been sent again, four times
    assert len(frames) == sent
    acquired = call(server_url, "task.acquire", id=task_id, version=0, pid="w1", ttl=5000)
    assert acquired[0] == 409

    assert call(server_url, "task.continue", id=task_id) == (200, {})

    assert wait_for(frames, sent + 1)[sent]["data"]["task"] == {"id": task_id, "version": 0}
    assert call(server_url, "task.get", id=task_id)[1]["task"]["state"] == "pending"
    assert call(server_url, "task.continue", id=task_id) == (409, "Task is not halted")


def test_a_halted_task_whose_promise_settles_is_fulfilled_and_can_be_neither_halted_nor_continued(
    server_url: str,
) -> None:
    task_id = task_of(server_url, unique("grp"))
    call(server_url, "task.halt", id=task_id)

    call(server_url, "promise.settle", id=task_id, state="resolved")

    assert call(server_url, "task.get", id=task_id)[1]["task"]["state"] == "fulfilled"
    assert call(server_url, "task.halt", id=task_id) == (409, "Task is fulfilled")
    assert call(server_url, "task.continue", id=task_id) == (409, "Task is not halted")


def test_a_halted_task_keeps_what_it_awaited_settling_for_when_it_is_continued(
    server_url: str,
) -> None:
    group, frames = unique("grp"), []
    sse_frames(server_url, group, "w1", frames)
    task_id, dependency = task_of(server_url, group), unique("dep")
    call(server_url, "task.acquire", id=task_id, version=0, pid="w1", ttl=60_000)
    call(server_url, "promise.create", id=dependency, timeoutAt=FAR)
    call(server_url, "task.suspend", id=task_id, version=0, actions=[])
    call(server_url, "promise.register_callback", awaited=dependency, awaiter=task_id)
    call(server_url, "task.halt", id=task_id)

    call(server_url, "promise.settle", id=dependency, state="resolved")
    time.sleep(0.5)  # an execute message, had one been sent, would be here by now

    task: dict[str, Any] = call(server_url, "task.get", id=task_id)[1]["task"]
    assert (task["state"], task["resumes"]) == ("halted", 1)
    assert [f["kind"] for f in frames] == ["execute"], "no execute while halted"


@pytest.mark.parametrize(
    ("kind", "data", "answer"),
    [("task.get", {"id": "nope"}, (404, "Task not found")),
     ("task.halt", {"id": "nope"}, (404, "Task not found")),
     ("task.continue", {"id": "nope"}, (404, "Task not found")),
     ("task.get", {}, (400, "Task ID is required")),
     ("task.halt", {"id": ""}, (400, "Task ID is required"))],
)  # fmt: skip
def test_a_task_operation_without_a_task_is_refused(
    resonate_url: str, kind: str, data: dict[str, str], answer: tuple[int, str]
) -> None:
    assert call(resonate_url, kind, **data) == answer


def test_task_search_pages_through_tasks_in_id_order_and_filters_by_state(
    server_url: str,
) -> None:
    everything: list[dict[str, Any]] = []
    cursor = None
    halted = task_of(server_url, unique("grp"))
    call(server_url, "task.halt", id=halted)
    while True:
        status, page = call(server_url, "task.search", limit=2,
                            **({"cursor": cursor} if cursor else {}))  # fmt: skip
        assert status == 200
        everything += page["tasks"]
        cursor = page.get("cursor")
        if cursor is None:
            break
        assert len(page["tasks"]) == 2

    ids = [t["id"] for t in everything]
    assert ids == sorted(ids)
    assert halted in ids
    only_halted = call(server_url, "task.search", state="halted", limit=1000)[1]["tasks"]
    assert {t["state"] for t in only_halted} == {"halted"}
    assert halted in {t["id"] for t in only_halted}


@pytest.mark.parametrize(
    ("data", "message"),
    [({"state": "sleeping"}, "Invalid request: unknown variant `sleeping`, expected one of "
      "`pending`, `acquired`, `suspended`, `halted`, `fulfilled`"),
     ({"limit": 0}, "Limit must be a positive integer"),
     ({"limit": 1001}, "Invalid 'limit' — must be between 1 and 1000")],
)  # fmt: skip
def test_a_task_search_it_cannot_run_is_refused(
    resonate_url: str, data: dict[str, Any], message: str
) -> None:
    assert call(resonate_url, "task.search", **data) == (400, message)


SCHEDULE = {"cron": "0 2 * * *", "promiseId": "nightly-{{.timestamp}}", "promiseTimeout": 60_000}


@pytest.mark.parametrize(
    ("data", "message"),
    [({**SCHEDULE, "cron": "nonsense"}, "Invalid cron expression"),
     ({**SCHEDULE, "cron": "* * * * 0"}, "Invalid cron expression"),  # days of week are 1-7
     ({**SCHEDULE, "id": ""}, "Schedule ID is required"),
     ({**SCHEDULE, "cron": ""}, "Cron expression is required"),
     ({**SCHEDULE, "promiseId": ""}, "Promise ID template is required"),
     ({**SCHEDULE, "promiseTimeout": -1}, "Promise timeout must be a non-negative integer"),
     ({"cron": "0 2 * * *", "promiseId": "n"}, "Invalid request: missing field `promiseTimeout`")],
)  # fmt: skip
def test_a_schedule_that_could_not_fire_is_refused(
    resonate_url: str, data: dict[str, Any], message: str
) -> None:
    # server.rs:2334-2376, types.rs:533-549
    assert call(resonate_url, "schedule.create", **{"id": unique("s"), **data}) == (400, message)


def test_a_schedule_is_stored_with_its_next_slot_and_kept_as_first_created(
    resonate_url: str,
) -> None:
    schedule_id = unique("nightly")
    before = int(time.time()) * 1000

    created = call(resonate_url, "schedule.create", id=schedule_id, **SCHEDULE)
    again = call(resonate_url, "schedule.create", id=schedule_id, **{**SCHEDULE, "cron": "@hourly"})

    status, data = created
    record = data["schedule"]
    assert status == 200
    assert set(record) == {"id", "cron", "promiseId", "promiseTimeout", "promiseParam",
                           "promiseTags", "createdAt", "nextRunAt"}  # fmt: skip
    assert (record["cron"], record["promiseParam"], record["promiseTags"]) == ("0 2 * * *", {}, {})
    slot = record["nextRunAt"]
    assert slot > before
    assert slot % 86_400_000 == 2 * 3_600_000, "02:00 UTC"
    assert slot - before <= 86_400_000
    assert again == created, "the same id again: the stored schedule, unchanged"
    assert call(resonate_url, "schedule.get", id=schedule_id) == (200, data)
    assert call(resonate_url, "schedule.delete", id=schedule_id) == (200, {})
    assert call(resonate_url, "schedule.get", id=schedule_id) == (404, "Schedule not found")
    assert call(resonate_url, "schedule.delete", id=schedule_id) == (404, "Schedule not found")


def test_schedule_search_filters_by_promise_tags_and_pages_by_id(resonate_url: str) -> None:
    team = unique("team")
    ids = sorted(unique("s") for _ in range(3))
    for schedule_id in ids:
        call(resonate_url, "schedule.create", id=schedule_id, promiseTags={"team": team},
             **SCHEDULE)  # fmt: skip
    call(resonate_url, "schedule.create", id=unique("s"), promiseTags={"team": "other"},
         **SCHEDULE)  # fmt: skip

    first = call(resonate_url, "schedule.search", tags={"team": team}, limit=2)[1]
    rest = call(resonate_url, "schedule.search", tags={"team": team}, limit=2,
                cursor=first["cursor"])[1]  # fmt: skip

    assert [s["id"] for s in first["schedules"]] == ids[:2]
    assert [s["id"] for s in rest["schedules"]] == ids[2:]
    assert "cursor" not in rest
    assert call(resonate_url, "schedule.search", limit=0) == (
        400, "Limit must be a positive integer")  # fmt: skip


def test_a_slot_past_its_promise_timeout_is_created_timed_out_and_sends_nothing(
    server_url: str,
) -> None:
    group, frames = unique("grp"), []
    sse_frames(server_url, group, "w1", frames)
    schedule_id = unique("late")
    call(server_url, "schedule.create", id=schedule_id, cron="* * * * * *",
         promiseId="{{.id}}.{{.timestamp}}", promiseTimeout=0,
         promiseTags={"resonate:target": f"poll://any@{group}"})  # fmt: skip

    def fired() -> list[dict[str, Any]]:
        page = call(server_url, "promise.search", tags={"resonate:schedule": schedule_id})[1]
        return list(page["promises"])

    deadline = time.monotonic() + 10
    while not fired():
        assert time.monotonic() < deadline, "no slot fired"
        time.sleep(0.1)
    call(server_url, "schedule.delete", id=schedule_id)
    promise = fired()[0]

    slot = int(promise["id"].rsplit(".", 1)[1])
    assert (promise["state"], promise["timeoutAt"], promise["createdAt"]) == (
        "rejected_timedout", slot, slot)  # fmt: skip
    assert promise["tags"]["resonate:schedule"] == schedule_id
    assert promise["tags"]["resonate:origin"] == promise["id"]
    assert frames == [], "a slot already timed out runs nothing"


UI_ORIGIN = "http://127.0.0.1:5173"  # where the Resonate web UI is served from


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server with its metrics port and CORS for one origin: (its URL, its metrics URL)."""
    base: Path = tmp_path_factory.mktemp("observed")
    metrics_port = free_port()
    server, url = resonate_server(
        str(base / "resonate.db"), base / "server.log", None,
        "--observability-metrics-port", str(metrics_port),
        "--server-cors-allow-origin", UI_ORIGIN,
    )  # fmt: skip
    yield url, f"http://127.0.0.1:{metrics_port}/metrics"
    server.kill9()


def samples(metrics_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by Prometheus's own parser: (name, labels) -> value."""
    with urllib.request.urlopen(metrics_url, timeout=10) as answer:  # noqa: S310 - loopback
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def test_the_metrics_count_requests_messages_and_scheduled_promises(
    observed: tuple[str, str],
) -> None:
    url, metrics_url = observed
    created = ("resonate_request_total", (("kind", "promise.create"), ("status", "201")))
    executes = ("resonate_messages_total", (("kind", "execute"),))
    timed = ("resonate_request_duration_seconds_count", (("kind", "promise.create"),))
    scheduled = ("resonate_schedule_promises_total", ())
    before = samples(metrics_url)

    for _ in range(3):
        call(url, "promise.create", id=unique("p"), timeoutAt=FAR,
             tags={"resonate:target": "poll://any@nobody"})  # fmt: skip
    schedule_id = unique("s")
    call(url, "schedule.create", id=schedule_id, cron="* * * * * *", promiseId="{{.timestamp}}",
         promiseTimeout=1000)  # fmt: skip
    time.sleep(2.5)
    call(url, "schedule.delete", id=schedule_id)
    after = samples(metrics_url)

    assert after[created] - before.get(created, 0) == 3
    assert after[timed] - before.get(timed, 0) == 3
    assert after[executes] - before.get(executes, 0) >= 3
    assert after[scheduled] - before[scheduled] >= 1


def test_the_resonate_web_ui_may_call_the_api_from_its_origin(observed: tuple[str, str]) -> None:
    # main.rs:433-457 (tower-http CorsLayer): a preflight is answered at once
    url, _ = observed

    def preflight(origin: str) -> Any:
        request = urllib.request.Request(f"{url}/", method="OPTIONS", headers={  # noqa: S310
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
            return answer.status, answer.headers

    status, headers = preflight(UI_ORIGIN)
    other_status, other = preflight("http://127.0.0.1:1")

    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == UI_ORIGIN
    assert "POST" in headers["Access-Control-Allow-Methods"].split(",")
    assert "content-type" in headers["Access-Control-Allow-Headers"].split(",")
    assert (other_status, other["Access-Control-Allow-Origin"]) == (200, None)
    envelope = json.dumps({"kind": "promise.get", "head": {"corrId": "c", "version": VERSION},
                           "data": {"id": "missing"}}).encode()  # fmt: skip
    request = urllib.request.Request(f"{url}/", data=envelope, method="POST",  # noqa: S310
                                     headers={"Origin": UI_ORIGIN})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback
    assert missing.value.headers["Access-Control-Allow-Origin"] == UI_ORIGIN
