"""SQS entry point: each record is a job, started exactly as ``POST /process-document`` does.

A record whose body is not a valid job, whose job id conflicts, or that cannot reach Resonate
raises; powertools reports it in ``batchItemFailures`` so only it returns to the queue (and
after ``maxReceiveCount`` receives, to the dead-letter queue). The others are done.

No ``from __future__ import annotations`` here: powertools reads the model at runtime.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json
from aws_lambda_powertools.utilities.typing import LambdaContext
from docflow_shared.models import JobRequest

from ..logic.start_job import start_job
from ..observability import count_started, logger, metrics, tracer

CORRELATION_ATTRIBUTE = "correlationId"


class JobMessage(SqsRecordModel):
    body: Json[JobRequest]  # type: ignore[assignment]  # the body is the job's JSON


processor = BatchProcessor(event_type=EventType.SQS, model=JobMessage)


@tracer.capture_method
def start_queued_job(record: JobMessage) -> None:
    logger.append_keys(jobId=record.body.job_id)
    # The sender's correlationId message attribute, or else the message's own id.
    sent = record.messageAttributes.get(CORRELATION_ATTRIBUTE)
    logger.set_correlation_id(sent.stringValue if sent and sent.stringValue else record.messageId)
    started = start_job(record.body, logger.get_correlation_id() or record.messageId)
    count_started(started)
    logger.info("job started from the queue", extra={"messageId": record.messageId})


@logger.inject_lambda_context(clear_state=True)  # no jobId left from the last request
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=start_queued_job, processor=processor, context=context
    )
