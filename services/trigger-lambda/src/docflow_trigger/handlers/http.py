"""API Gateway (HTTP API, payload 2.0) entry point: ``POST /process-document`` and the job
actions, ``POST /jobs/{jobId}/approval``, ``.../cancel`` and ``.../redrive``.

No ``from __future__ import annotations`` here: powertools reads the route signatures at runtime.
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from docflow_shared.identity import Caller, caller_in
from docflow_shared.lambda_http import (
    RETRY_AFTER_SECONDS,
    new_resolver,
    openapi_responses,
    resolve,
)
from docflow_shared.models import Accepted, ApprovalDecision, JobActionAccepted, JobRequest
from docflow_shared.settings import TriggerSettings

from ..logic.job_actions import cancel, decide, redrive
from ..logic.start_job import start_job
from ..observability import count_started, logger, metrics

TriggerSettings.current()  # at init: a missing or bad variable stops the function, named
app = new_resolver(logger)


@app.post(
    "/process-document",
    summary="Start a document job (once per jobId)",
    operation_id="startJob",
    description="Starts the job's durable workflow and answers at once; poll the Location. "
    "Sending the same job again answers 202 again and starts nothing new.",
    responses=openapi_responses(
        202,
        "accepted: the workflow exists",
        Accepted,
        *(400, 401, 403, 409, 413, 415, 422, 429, 502, 503),
    ),
)
def process_document(job: Annotated[JobRequest, Body()]) -> Response[str]:
    logger.append_keys(jobId=job.job_id)
    started = start_job(job, request_id(), caller=caller(), fair_use=True)
    count_started(started)
    # A repeated request is answered with the correlation id the workflow carries.
    logger.set_correlation_id(started.correlation_id)
    logger.info("job accepted", extra={"deduplicated": started.deduplicated})
    return Response(
        202,
        "application/json",
        started.accepted.model_dump_json(by_alias=True),
        headers={
            "Location": started.accepted.status_url,
            "Retry-After": str(RETRY_AFTER_SECONDS),
        },
    )


JobId = Annotated[str, Path(alias="jobId")]


@app.post(
    "/jobs/<jobId>/approval",
    summary="Approve or reject a job that is awaiting approval",
    operation_id="decideJob",
    responses=openapi_responses(
        202,
        "decided: the job resumes",
        JobActionAccepted,
        400,
        401,
        403,
        404,
        409,
        413,
        415,
        422,
        503,
    ),
)
def approval(job_id: JobId, decision: Annotated[ApprovalDecision, Body()]) -> Response[str]:
    logger.append_keys(jobId=job_id)
    return accepted(decide(job_id, decision, caller=caller(), correlation_id=request_id()))


@app.post(
    "/jobs/<jobId>/cancel",
    summary="Cancel a job: it ends canceled at its next step boundary",
    operation_id="cancelJob",
    responses=openapi_responses(
        202, "cancel requested", JobActionAccepted, 400, 401, 404, 409, 503
    ),
)
def cancel_job(job_id: JobId) -> Response[str]:
    logger.append_keys(jobId=job_id)
    return accepted(cancel(job_id, caller=caller(), correlation_id=request_id()))


@app.post(
    "/jobs/<jobId>/redrive",
    summary="Run a failed job again from its failed step, once the fix is deployed",
    operation_id="redriveJob",
    description="A job that failed on a bug, or on an outage that did not pass, waits until its "
    "deadline for this: a new run starts at the failed step and reuses every step done before "
    "it. A job that is not failed, or failed for good (a document that can never be processed), "
    "answers 409.",
    responses=openapi_responses(
        202, "redriven: the job runs again", JobActionAccepted, 400, 401, 404, 409, 503
    ),
)
def redrive_job(job_id: JobId) -> Response[str]:
    logger.append_keys(jobId=job_id)
    return accepted(redrive(job_id, caller=caller(), correlation_id=request_id()))


def caller() -> Caller | None:
    """The verified caller of this request (a JWT authorizer in front), if any."""
    return caller_in(app.current_event.raw_event)


def request_id() -> str:
    """This request's correlation id (in its answer and every log line it writes)."""
    return logger.get_correlation_id() or ""


def accepted(action: JobActionAccepted) -> Response[str]:
    metrics.add_metric(name="JobActions", unit=MetricUnit.Count, value=1)
    return Response(
        202,
        "application/json",
        action.model_dump_json(by_alias=True),
        headers={"Location": action.status_url},
    )


@logger.inject_lambda_context(clear_state=True)  # no jobId left from the last request
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer = resolve(app, event, context, logger, TriggerSettings.current().api_token)
    if event.get("routeKey") == "POST /process-document" and 400 <= answer["statusCode"] < 500:
        metrics.add_metric(name="JobsRefused", unit=MetricUnit.Count, value=1)
    return answer
