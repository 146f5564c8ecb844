"""SQS entry point: each record is a job, started exactly as ``POST /process-document`` does, or
an S3 event notification from the inbox, whose objects each start a job (``logic.inbox``), or
S3's test event (nothing to do).

A record whose body is none of these, whose job id conflicts, or that cannot reach Resonate
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
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json
from aws_lambda_powertools.utilities.typing import LambdaContext
from docflow_shared.inbox import InboxObject, QueueMessageBody, S3EventNotification, S3TestEvent
from docflow_shared.settings import TriggerSettings

from ..logic.inbox import start_inbox_job
from ..logic.start_job import start_job
from ..observability import count_started, logger, metrics

CORRELATION_ATTRIBUTE = "correlationId"


class QueueMessage(SqsRecordModel):
    body: Json[QueueMessageBody]  # a job, or what S3 sent


TriggerSettings.current()  # at init: a missing or bad variable stops the function, named
processor = BatchProcessor(event_type=EventType.SQS, model=QueueMessage)


def start_queued_job(record: QueueMessage) -> None:
    # The sender's correlationId message attribute, or else the message's own id.
    sent = record.messageAttributes.get(CORRELATION_ATTRIBUTE)
    logger.set_correlation_id(sent.stringValue if sent and sent.stringValue else record.messageId)
    correlation_id = logger.get_correlation_id() or record.messageId
    body = record.body
    if isinstance(body, S3TestEvent):
        logger.info("S3 test event", extra={"bucket": body.Bucket})
        return
    if isinstance(body, S3EventNotification):
        for created in body.Records:
            inbox_object = InboxObject.of(created)
            logger.append_keys(jobId=inbox_object.job_id)
            started = start_inbox_job(inbox_object, correlation_id)
            count_started(started)
            logger.info("job started from the inbox",
                        extra={"messageId": record.messageId, "key": inbox_object.key})  # fmt: skip
        return
    logger.append_keys(jobId=body.job_id)
    count_started(start_job(body, correlation_id))
    logger.info("job started from the queue", extra={"messageId": record.messageId})


@logger.inject_lambda_context(clear_state=True)  # no jobId left from the last request
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=start_queued_job, processor=processor, context=context
    )
