"""Completion webhooks: Standard Webhooks (verified with the ``standardwebhooks`` library), retried,
dead-lettered, and delivered once across a crash."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from docflow_samples import invoice_pdf
from docflow_testing.processes import wait_until
from docflow_testing.receiver import Receiver, new_secret
from docflow_testing.stack import FileServer, LocalStack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-notify-stack")]

SECRET, OLD_SECRET = new_secret(), new_secret()


@pytest.fixture(scope="module")
def notify_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # In the middle of a rotation: the new secret first, the old one still signing.
    settings = {"DOCFLOW_WEBHOOK_SECRET": f"{SECRET},{OLD_SECRET}",
                "DOCFLOW_WEBHOOK_BACKOFF": "0.2",
                "DOCFLOW_WEBHOOK_MAX_ATTEMPTS": "4"}  # fmt: skip
    yield from running_stack(tmp_path_factory, "notify-stack", **settings)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver(SECRET)
    yield hook
    hook.close()


def deliveries(stack: LocalStack, job_id: str) -> list[dict[str, Any]]:
    port = stack.env["DOCFLOW_NOTIFIER_PORT"]
    answer = httpx.get(
        f"http://127.0.0.1:{port}/notifications", params={"jobId": job_id}, timeout=10
    )
    assert answer.status_code == 200
    return list(answer.json())


def wait_outcome(stack: LocalStack, job_id: str, outcome: str) -> dict[str, Any]:
    wait_until(lambda: any(d.get("status") == outcome for d in deliveries(stack, job_id)), 60,
               f"a {outcome} delivery for {job_id}")  # fmt: skip
    [record] = deliveries(stack, job_id)
    return record


def run_job(stack: LocalStack, files: FileServer, callback: str) -> str:
    job_id = f"n-{uuid.uuid4().hex[:8]}"
    url = files.serve(f"/{job_id}.pdf", invoice_pdf(), "application/pdf")
    job = {"jobId": job_id, "documentUrl": url, "requesterId": "hooks", "callbackUrl": callback}
    assert stack.submit(job).status_code == 202
    assert stack.wait_finished(job_id)["status"] == "done"
    return job_id


def test_a_finished_job_is_announced_by_a_signed_webhook(
    notify_stack: LocalStack, files: FileServer, receiver: Receiver
) -> None:
    job_id = run_job(notify_stack, files, receiver.url())

    record = wait_outcome(notify_stack, job_id, "delivered")
    [got] = receiver.for_job(job_id)

    assert got.signed
    assert got.body["type"] == "job.done"
    assert got.data["status"] == "done"
    assert got.data["requesterId"] == "hooks"
    assert got.data["resultUrl"].endswith(f"/jobs/{job_id}/result.json")
    assert got.data["correlationId"]
    assert got.event_id == got.headers["X-Docflow-Event-Id"] == record["eventId"]
    assert record["attempts"] == "1"


def test_during_a_secret_rotation_a_receiver_still_on_the_old_secret_verifies(
    notify_stack: LocalStack, files: FileServer
) -> None:
    on_old, on_other = Receiver(OLD_SECRET), Receiver(new_secret())
    try:
        old_job = run_job(notify_stack, files, on_old.url())
        other_job = run_job(notify_stack, files, on_other.url())
        wait_outcome(notify_stack, old_job, "delivered")
        wait_outcome(notify_stack, other_job, "delivered")

        [got_old] = on_old.for_job(old_job)
        [got_other] = on_other.for_job(other_job)
    finally:
        on_old.close()
        on_other.close()

    assert got_old.signed
    assert not got_other.signed, "a secret the notifier does not hold never verifies"


def test_a_failed_job_is_announced_with_its_reason(
    notify_stack: LocalStack, files: FileServer, receiver: Receiver
) -> None:
    job_id = f"n-{uuid.uuid4().hex[:8]}"
    job = {"jobId": job_id, "documentUrl": files.url(f"/{job_id}-missing.pdf"),
           "requesterId": "hooks", "callbackUrl": receiver.url()}  # fmt: skip
    assert notify_stack.submit(job).status_code == 202
    assert notify_stack.wait_finished(job_id)["status"] == "failed"

    wait_outcome(notify_stack, job_id, "delivered")
    [got] = receiver.for_job(job_id)

    assert got.signed
    assert got.body["type"] == "job.failed"
    assert got.data["status"] == "failed"
    assert got.data["reason"] == "not_found"
    assert "answered 404" in got.data["message"]


def test_a_receiver_that_is_down_gets_the_event_when_it_is_back(
    notify_stack: LocalStack, files: FileServer, receiver: Receiver
) -> None:
    receiver.status = 503
    job_id = run_job(notify_stack, files, receiver.url())
    wait_until(lambda: any(d.get("status") == "retrying" for d in deliveries(notify_stack, job_id)),
               30, "a failed attempt")  # fmt: skip
    receiver.status = 200

    record = wait_outcome(notify_stack, job_id, "delivered")

    assert int(record["attempts"]) >= 2
    assert len(receiver.for_job(job_id)) == 1


def test_a_4xx_answer_is_permanent_and_dead_lettered_with_its_reason(
    notify_stack: LocalStack, files: FileServer, receiver: Receiver
) -> None:
    receiver.status = 410
    job_id = run_job(notify_stack, files, receiver.url())

    record = wait_outcome(notify_stack, job_id, "dead")

    assert record["attempts"] == "1", "a 4xx is not retried"
    assert "410" in record["lastError"]
    store = redis.Redis(port=int(notify_stack.env["DOCFLOW_REDIS_PORT"]))
    letters = [json.loads(f[b"event"]) for _, f in store.xrange("docflow:notifications:dead")]
    assert job_id in [letter["jobId"] for letter in letters]


def test_a_notifier_killed_mid_burst_delivers_everything_after_a_restart(
    notify_stack: LocalStack, receiver: Receiver
) -> None:
    receiver.delay = 0.2  # slow enough that the kill lands while deliveries are in flight
    store = redis.Redis(port=int(notify_stack.env["DOCFLOW_REDIS_PORT"]))
    burst = f"burst-{uuid.uuid4().hex[:6]}"
    job_ids = [f"{burst}-{i}" for i in range(40)]
    for job_id in job_ids:
        event = {"type": "job.done", "jobId": job_id, "callbackUrl": receiver.url()}
        store.xadd("docflow:notifications", {"event": json.dumps(event)})
    wait_until(lambda: len(receiver.received) >= 10, 30, "the burst to start arriving")

    notify_stack.kill9("notifier")
    notify_stack.run("up")
    wait_until(lambda: all(receiver.for_job(j) for j in job_ids), 90, "every event delivered")
    time.sleep(1)

    per_event = Counter(r.event_id for r in receiver.received if r.data["jobId"].startswith(burst))
    duplicates = sum(n - 1 for n in per_event.values())
    print(f"crash window: {duplicates} of {len(job_ids)} events delivered twice")
    assert len(per_event) == len(job_ids)
    assert duplicates <= 16, "only deliveries in flight at the kill may repeat"
    assert all(r.signed for r in receiver.received)


def test_a_callback_to_a_non_public_address_is_refused_not_called(
    notify_stack: LocalStack, files: FileServer
) -> None:
    job_id = run_job(notify_stack, files, "http://127.0.0.2:9/hook")

    record = wait_outcome(notify_stack, job_id, "dead")

    assert record["attempts"] == "1"
    assert record["lastError"].startswith("url_refused")
