"""API Gateway (HTTP API, payload 2.0) entry point: ``POST /process-document``.

No ``from __future__ import annotations`` here: powertools reads the route signatures at runtime.
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from docflow_shared.lambda_http import (
    RETRY_AFTER_SECONDS,
    new_resolver,
    openapi_responses,
    resolve,
)
from docflow_shared.models import Accepted, JobRequest

from ..logic.start_job import start_job
from ..observability import logger, metrics, tracer

app = new_resolver(logger)


@app.post(
    "/process-document",
    summary="Start a document job (once per jobId)",
    operation_id="startJob",
    description="Starts the job's durable workflow and answers at once; poll the Location. "
    "Sending the same job again answers 202 again and starts nothing new.",
    responses=openapi_responses(
        202, "accepted: the workflow exists", Accepted, 400, 401, 409, 413, 415, 422, 502, 503
    ),
)
@tracer.capture_method
def process_document(job: Annotated[JobRequest, Body()]) -> Response[str]:
    logger.append_keys(jobId=job.job_id)
    accepted = start_job(job)
    metrics.add_metric(name="JobsAccepted", unit=MetricUnit.Count, value=1)
    return Response(
        202,
        "application/json",
        accepted.model_dump_json(by_alias=True),
        headers={"Location": accepted.status_url, "Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
