"""API Gateway (HTTP API, payload 2.0) entry point: ``GET /status/{jobId}``."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from docflow_shared.lambda_http import new_resolver, openapi_responses, resolve
from docflow_shared.models import JobStatus

from ..logic.job_status import get_job_status
from ..observability import logger, metrics, tracer

app = new_resolver(logger)


@app.get(
    "/status/<jobId>",
    summary="A job's status, steps and result",
    operation_id="getJobStatus",
    responses=openapi_responses(200, "the job", JobStatus, 400, 401, 404, 422, 502, 503),
)
@tracer.capture_method
def job_status(job_id: Annotated[str, Path(alias="jobId")]) -> Response[str]:
    logger.append_keys(jobId=job_id)
    status = get_job_status(job_id)
    return Response(200, "application/json", status.model_dump_json(by_alias=True))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
