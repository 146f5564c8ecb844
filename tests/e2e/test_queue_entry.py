"""Jobs arriving through SQS: partial batch failures, the dead-letter queue, outages, duplicates."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from docflow_devstack.samples import invoice_pdf

from tests.support.stack import FileServer, LocalStack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-sqs-stack")]


@pytest.fixture(scope="module")
def queue_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "sqs-stack", DOCFLOW_SQS_VISIBILITY_TIMEOUT="2")


def sqs(stack: LocalStack) -> Any:
    return boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{stack.env['DOCFLOW_AWS_PORT']}",
                        region_name="us-east-1", aws_access_key_id="local",
                        aws_secret_access_key="local")  # fmt: skip


def queue_url(stack: LocalStack, name: str = "docflow-jobs") -> str:
    return f"http://127.0.0.1:{stack.env['DOCFLOW_AWS_PORT']}/000000000000/{name}"


def send(stack: LocalStack, bodies: list[str]) -> None:
    sqs(stack).send_message_batch(
        QueueUrl=queue_url(stack),
        Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)],
    )


def job(files: FileServer) -> dict[str, Any]:
    job_id = f"q-{uuid.uuid4().hex[:8]}"
    url = files.serve(f"/{job_id}.pdf", invoice_pdf(), "application/pdf")
    return {"jobId": job_id, "documentUrl": url, "requesterId": "queue"}


def dead_letters(stack: LocalStack, timeout: float = 40) -> list[dict[str, Any]]:
    deadline, found = time.monotonic() + timeout, []
    while time.monotonic() < deadline and not found:
        found = sqs(stack).receive_message(
            QueueUrl=queue_url(stack, "docflow-jobs-dlq"), MaxNumberOfMessages=10,
            WaitTimeSeconds=1, AttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
    return list(found)


def test_a_poison_message_goes_to_the_dead_letter_queue_and_the_rest_start(
    queue_stack: LocalStack, files: FileServer
) -> None:
    jobs = [job(files) for _ in range(9)]
    poison = '{"jobId": "poison", "documentUrl": 42}'

    send(
        queue_stack,
        [json.dumps(j) for j in jobs[:5]] + [poison] + [json.dumps(j) for j in jobs[5:]],
    )

    statuses = [queue_stack.wait_finished(j["jobId"], queued=True)["status"] for j in jobs]
    [letter] = dead_letters(queue_stack)
    assert statuses == ["done"] * 9
    assert letter["Body"] == poison
    assert int(letter["Attributes"]["ApproximateReceiveCount"]) >= 3


def test_queued_jobs_wait_out_a_resonate_outage_and_start_when_it_is_back(
    queue_stack: LocalStack, files: FileServer
) -> None:
    jobs = [job(files) for _ in range(3)]
    queue_stack.kill9("resonate")
    send(queue_stack, [json.dumps(j) for j in jobs])
    time.sleep(3)  # the poller tries, the handler reports every record failed

    queue_stack.run("up")
    statuses = [queue_stack.wait_finished(j["jobId"], queued=True)["status"] for j in jobs]

    assert statuses == ["done"] * 3


def test_duplicate_messages_start_one_workflow(queue_stack: LocalStack, files: FileServer) -> None:
    one = job(files)

    send(queue_stack, [json.dumps(one)] * 4)
    status = queue_stack.wait_finished(one["jobId"], queued=True)
    time.sleep(1)

    assert status["status"] == "done"
    assert queue_stack.step_starts(one["jobId"]) == [
        "download",
        "extract",
        "analyze",
        "store",
        "notify",
    ]
