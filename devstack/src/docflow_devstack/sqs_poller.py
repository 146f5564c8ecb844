"""``docflow-sqs-poller``: the Lambda SQS event source mapping, for the local queue.

Long-polls the queue, gathers up to ``--batch-size`` messages or what arrived within
``--batch-window`` seconds, invokes the trigger's SQS handler with a real SQS event, and
deletes only what succeeded (``ReportBatchItemFailures``). Failed messages become visible
again after the queue's visibility timeout; the queue's redrive policy moves a message to the
dead-letter queue after ``maxReceiveCount`` receives. If the handler itself raises, nothing is
deleted and the poller backs off, as Lambda does.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
from typing import Any

import boto3
from docflow_shared.lambda_context import LambdaContext
from docflow_shared.observability import json_logging

from .functions import Handler, local_function, remote_function

log = logging.getLogger("docflow.sqs-poller")

MAX_BACKOFF_SECONDS = 30.0


def to_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One received message as a record of the SQS event Lambda delivers."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class Poller:
    def __init__(
        self, queue_url: str, batch_size: int, batch_window: float, function: Handler
    ) -> None:
        self.function = function
        self.sqs = boto3.client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
        self.queue_url = queue_url
        self.batch_size = batch_size
        self.batch_window = batch_window
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        self.region = self.sqs.meta.region_name
        self.running = True

    def receive_batch(self) -> list[dict[str, Any]]:
        """Up to ``batch_size`` messages: the first long poll, then whatever the window adds."""
        batch: list[dict[str, Any]] = []
        deadline = None
        while self.running and len(batch) < self.batch_size:
            wait = 5 if deadline is None else max(0, int(deadline - time.monotonic()))
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            batch += received
            if batch and deadline is None:
                deadline = time.monotonic() + self.batch_window
            if (batch and not received) or (deadline is not None and time.monotonic() >= deadline):
                break
        return batch

    def handle(self, batch: list[dict[str, Any]]) -> None:
        event = {"Records": [to_record(m, self.queue_arn, self.region) for m in batch]}
        answer = self.function(event, LambdaContext("docflow-trigger-sqs"))
        failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
        done = [m for m in batch if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                         for i, m in enumerate(done)],
            )  # fmt: skip
        log.info(
            "batch of %d: %d started, %d back to the queue", len(batch), len(done), len(failed)
        )

    def run(self) -> None:
        backoff = 1.0
        while self.running:
            try:
                batch = self.receive_batch()
                if batch:
                    self.handle(batch)
                backoff = 1.0
            except Exception:
                # Nothing was deleted: every message of the batch comes back after the
                # visibility timeout, as with a failed Lambda invocation.
                log.exception("batch failed; retrying in %.0f s", backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-sqs-poller", description=__doc__)
    parser.add_argument("--queue-url", default=os.environ.get("DOCFLOW_QUEUE_URL"))
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--batch-window", type=float, default=1.0)
    parser.add_argument(
        "--function-url", help="the trigger's SQS function in a Lambda container (compose)"
    )
    args = parser.parse_args(argv)
    if not args.queue_url:
        parser.error("no queue: pass --queue-url or set DOCFLOW_QUEUE_URL")
    json_logging("docflow-sqs-poller")
    function = (
        remote_function(args.function_url)
        if args.function_url
        else local_function("docflow_trigger.handlers.sqs:lambda_handler")
    )
    poller = Poller(args.queue_url, args.batch_size, args.batch_window, function)

    def stop(*_: object) -> None:
        poller.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("polling %s (batch %d, window %.1f s)", args.queue_url, args.batch_size,
             args.batch_window)  # fmt: skip
    poller.run()


if __name__ == "__main__":
    main()
