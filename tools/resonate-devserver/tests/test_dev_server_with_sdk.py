"""The dev server under real SDK processes: workers and clients talking HTTP + SSE on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from docflow_shared.resonate_http import encode_value
from docflow_testing.processes import Process, free_port, resonate_server, wait_until
from docflow_testing.protocol import call

pytestmark = pytest.mark.integration

TTL = 2.0
# Re-send pending tasks after 3 s instead of 30 s, so a message that found no worker
# (one was just killed) is retried within the test's patience.
FAST_RETRY = ("--tasks-retry-timeout", "3000")


def fast_server(tmp_path: Path, port: int | None = None) -> tuple[Process, str]:
    return resonate_server(str(tmp_path / "r.db"), tmp_path / "server.log", port, *FAST_RETRY)


def start_worker(url: str, effects: Path, name: str, *extra: str) -> Process:
    worker = Process(
        [sys.executable, "-m", "docflow_testing.demo_worker", url, str(effects), "--name", name,
         "--ttl", str(TTL), *extra],
        effects / f"{name}.out",
    ).start()  # fmt: skip
    wait_until(lambda: (effects / f"ready-{name}").exists(), 30, f"worker {name} to start")
    return worker


def start_client(url: str, workflow_id: str, effects: Path, *extra: str) -> Process:
    return Process(
        [sys.executable, "-m", "docflow_testing.demo_client", url, workflow_id, "10", *extra],
        effects / f"client-{workflow_id}.out",
    ).start()


def client_results(client: Process, timeout: float = 90) -> list[dict[str, object]]:
    assert client.popen is not None
    try:
        client.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        client.kill9()
        raise AssertionError(f"client did not finish:\n{client.output()}") from None
    lines = [ln for ln in client.output().splitlines() if ln.startswith("{")]
    assert client.popen.returncode == 0, client.output()
    assert lines, client.output()
    return [json.loads(ln) for ln in lines]


def executions(effects: Path, workflow_id: str) -> list[tuple[int, str]]:
    log = effects / f"{workflow_id}.log"
    lines = log.read_text().split() if log.exists() else []
    return [(int(lines[i]), lines[i + 1]) for i in range(0, len(lines), 2)]


@pytest.fixture
def effects(tmp_path: Path) -> Path:
    path = tmp_path / "effects"
    path.mkdir()
    return path


def test_a_three_step_workflow_completes_and_its_result_is_readable(
    tmp_path: Path, effects: Path
) -> None:
    server, url = resonate_server(str(tmp_path / "r.db"), tmp_path / "server.log")
    worker = start_worker(url, effects, "w1")
    try:
        [outcome] = client_results(start_client(url, "flow-1", effects))

        assert outcome == {"id": "flow-1", "result": 16, "state": "resolved", "value": 16}
        assert executions(effects, "flow-1") == [(1, "w1"), (2, "w1"), (3, "w1")]
    finally:
        worker.kill9()
        server.kill9()


def test_a_worker_killed_mid_step_resumes_elsewhere_without_repeating_done_steps(
    tmp_path: Path, effects: Path
) -> None:
    server, url = fast_server(tmp_path)
    first = start_worker(url, effects, "w1", "--hold-step", "2")
    second: Process | None = None
    try:
        client = start_client(url, "flow-2", effects)
        wait_until(lambda: (effects / "holding-2").exists(), 30, "step 2 to start")
        first.kill9()
        (effects / "release").touch()
        second = start_worker(url, effects, "w2")

        [outcome] = client_results(client)

        assert outcome["result"] == 16
        assert executions(effects, "flow-2") == [(1, "w1"), (2, "w1"), (2, "w2"), (3, "w2")]
    finally:
        for proc in (first, second, server):
            if proc is not None:
                proc.kill9()


def test_a_dev_server_killed_mid_workflow_restarts_on_its_store_and_the_workflow_completes(
    tmp_path: Path, effects: Path
) -> None:
    port = free_port()
    server, url = fast_server(tmp_path, port)
    worker = start_worker(url, effects, "w1", "--hold-step", "2")
    try:
        client = start_client(url, "flow-3", effects)
        wait_until(lambda: (effects / "holding-2").exists(), 30, "step 2 to start")
        server.kill9()
        server, _ = fast_server(tmp_path, port)
        (effects / "release").touch()

        [outcome] = client_results(client)

        assert outcome["result"] == 16
        steps = Counter(step for step, _ in executions(effects, "flow-3"))
        assert steps[1] == 1, "step 1 was checkpointed before the crash and must not re-run"
        assert steps[3] >= 1
    finally:
        worker.kill9()
        server.kill9()


def test_tasks_spread_over_two_workers_and_a_survivor_takes_over_a_killed_ones_task(
    tmp_path: Path, effects: Path
) -> None:
    server, url = fast_server(tmp_path)
    workers = {name: start_worker(url, effects, name, "--hold-step", "2") for name in ("w1", "w2")}
    try:
        (effects / "release").touch()
        results = client_results(start_client(url, "spread", effects, "--count", "12"))
        assert [r["result"] for r in results] == [16] * 12
        ran_by = {name for i in range(12) for _, name in executions(effects, f"spread-{i}")}
        assert ran_by == {"w1", "w2"}, "the server should spread tasks over the group"

        (effects / "release").unlink()
        (effects / "holding-2").unlink()
        client = start_client(url, "takeover", effects)
        wait_until(lambda: (effects / "holding-2").exists(), 30, "step 2 to start")
        holder = (effects / "holding-2").read_text()
        survivor = ({"w1", "w2"} - {holder}).pop()
        workers[holder].kill9()
        killed_at = time.monotonic()
        (effects / "release").touch()

        [outcome] = client_results(client)

        assert outcome["result"] == 16
        done = executions(effects, "takeover")
        assert done[-2:] == [(2, survivor), (3, survivor)]
        assert [s for s, _ in done].count(1) == 1
        assert time.monotonic() - killed_at >= TTL * 0.9, "takeover happens when the lease lapses"
    finally:
        for proc in (*workers.values(), server):
            proc.kill9()


def test_heartbeats_keep_a_step_longer_than_the_lease_on_its_worker(
    tmp_path: Path, effects: Path
) -> None:
    server, url = fast_server(tmp_path)
    holder = start_worker(url, effects, "w1", "--hold-step", "2")
    bystander: Process | None = None
    try:
        client = start_client(url, "long-step", effects)
        wait_until(lambda: (effects / "holding-2").exists(), 30, "step 2 to start")
        bystander = start_worker(url, effects, "w2")
        time.sleep(3 * TTL)  # three leases long: only heartbeats keep the task on w1
        (effects / "release").touch()

        [outcome] = client_results(client)

        assert outcome["result"] == 16
        assert executions(effects, "long-step") == [(1, "w1"), (2, "w1"), (3, "w1")]
    finally:
        for proc in (holder, server, bystander):
            if proc is not None:
                proc.kill9()


def scheduled(url: str, schedule_id: str) -> list[dict[str, object]]:
    """The promises ``schedule_id`` has created so far (every slot's), in slot order."""
    status, page = call(url, "promise.search", tags={"resonate:schedule": schedule_id},
                        limit=1000)  # fmt: skip
    assert status == 200, page
    return sorted(page["promises"], key=lambda p: int(str(p["createdAt"])))


def test_a_schedule_fires_every_slot_and_a_worker_runs_each_even_across_a_restart(
    tmp_path: Path, effects: Path
) -> None:
    """The proof of issue 19: a cron every second creates its promises, a worker runs them, and
    a restarted server fires the slots it missed, each once (a slot is in its promise's id)."""
    server, url = fast_server(tmp_path)
    port = int(url.rsplit(":", 1)[1])
    worker = start_worker(url, effects, "w1")
    call_of_three_steps = encode_value({"func": "three_steps", "args": [5], "kwargs": {},
                                        "version": 1})  # fmt: skip
    try:
        created = call(url, "schedule.create", id="every-second", cron="* * * * * *",
                       promiseId="tick-{{.id}}-{{.timestamp}}", promiseTimeout=60_000,
                       promiseParam=call_of_three_steps,
                       promiseTags={"resonate:target": "poll://any@workers",
                                    "resonate:scope": "global"})  # fmt: skip
        assert created[0] == 200, created
        wait_until(lambda: len(scheduled(url, "every-second")) >= 3, 30, "three slots")
        killed_at = int(time.time() * 1000)
        server.kill9()
        time.sleep(3)  # slots pass while the server is down
        server, url = fast_server(tmp_path, port)
        wait_until(lambda: len(scheduled(url, "every-second")) >= 9, 30, "the missed slots")
        call(url, "schedule.delete", id="every-second")
        promises = scheduled(url, "every-second")
        wait_until(lambda: all(p["state"] == "resolved" for p in scheduled(url, "every-second")),
                   60, "the worker to run every slot")  # fmt: skip
    finally:
        worker.kill9()
        server.kill9()

    slots = [int(str(p["id"]).rsplit("-", 1)[1]) for p in promises]
    assert slots == list(range(slots[0], slots[0] + 1000 * len(slots), 1000)), (
        "one promise per second, none missed and none twice"
    )
    for slot, promise in zip(slots, promises, strict=True):
        ran = executions(effects, str(promise["id"]))
        if slot < killed_at:  # in flight when the server died: a step may run again (at least once)
            assert sorted(set(ran)) == [(1, "w1"), (2, "w1"), (3, "w1")], ran
        else:
            assert ran == [(1, "w1"), (2, "w1"), (3, "w1")]
