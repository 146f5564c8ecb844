"""The front-door benchmark's non-durable alternative: the trigger's HTTP front (the same
resolver, ``JobRequest`` validation, error mapping, logs and metrics) that enqueues one Celery
task on a Redis broker (``CELERY_BROKER_URL``) instead of starting a workflow, and answers 202.
Nothing consumes the task here: like the trigger's, the request ends once the work is queued.

No ``from __future__ import annotations`` here: powertools reads the route signatures at runtime.
"""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from celery import Celery
from docflow_shared.lambda_http import new_resolver, resolve
from docflow_shared.models import Accepted, JobRequest

SERVICE = "bench-celery-front-door"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="docflow-bench", service=SERVICE)
tracer = Tracer(service=SERVICE)
queue = Celery(SERVICE)  # no result backend: the front door never waits for the task
app = new_resolver(logger)


@app.post("/celery")
@tracer.capture_method
def enqueue(job: Annotated[JobRequest, Body()]) -> Response[str]:
    logger.append_keys(jobId=job.job_id)
    queue.send_task("process_document", args=(job.as_workflow_input(job.requester_id or ""),))
    metrics.add_metric(name="JobsAccepted", unit=MetricUnit.Count, value=1)
    logger.info("job enqueued")
    accepted = Accepted(job_id=job.job_id, status_url=f"/status/{job.job_id}")
    return Response(202, "application/json", accepted.model_dump_json(by_alias=True))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context, logger, api_token=None)
