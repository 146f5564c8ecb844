"""API Gateway (HTTP API, payload 2.0) entry point: ``GET /status/{jobId}``, ``GET /jobs``,
``GET /versions``, ``GET /jobs/{jobId}/history`` and ``GET /jobs/{jobId}/pages/{page}``.

No ``from __future__ import annotations`` here: powertools reads the route signatures at runtime.
"""

import base64
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from docflow_shared.identity import caller_in
from docflow_shared.lambda_http import new_resolver, openapi_responses, resolve
from docflow_shared.models import JobList, JobStatus, JobStatusName, WorkflowVersions
from docflow_shared.settings import StatusSettings
from docflow_shared.workflow_history import JobHistory

from ..logic.history import export_history
from ..logic.job_status import get_job_status, list_jobs
from ..logic.pictures import picture_of_page
from ..logic.versions import workflow_versions
from ..observability import logger

StatusSettings.current()  # at init: a missing or bad variable stops the function, named
app = new_resolver(logger)


@app.get(
    "/status/<jobId>",
    summary="A job's status, steps and result",
    operation_id="getJobStatus",
    responses=openapi_responses(200, "the job", JobStatus, 400, 401, 404, 422, 502, 503),
)
def job_status(job_id: Annotated[str, Path(alias="jobId")]) -> Response[str]:
    logger.append_keys(jobId=job_id)
    status = get_job_status(job_id, caller_in(app.current_event.raw_event))
    return Response(200, "application/json", status.model_dump_json(by_alias=True))


@app.get(
    "/jobs",
    summary="The most recent jobs, newest first",
    operation_id="listJobs",
    responses=openapi_responses(200, "the jobs", JobList, 401, 422, 502, 503),
)
def jobs(
    status: Annotated[JobStatusName | None, Query(description="only jobs in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="at most this many jobs")] = 20,
) -> Response[str]:
    listed = list_jobs(status, limit, caller_in(app.current_event.raw_event))
    return Response(200, "application/json", listed.model_dump_json(by_alias=True))


@app.get(
    "/versions",
    summary="The workflow versions in use: jobs in flight and live workers on each",
    operation_id="listWorkflowVersions",
    description="Check it before retiring a version: a worker that drops a version strands the "
    "jobs still in flight on it. With verified callers, an admin's.",
    responses=openapi_responses(200, "the versions", WorkflowVersions, 401, 403, 502, 503),
)
def versions() -> Response[str]:
    listed = workflow_versions(caller_in(app.current_event.raw_event))
    return Response(200, "application/json", listed.model_dump_json(by_alias=True))


@app.get(
    "/jobs/<jobId>/history",
    summary="A job's history: its root promise and every durable call under it",
    operation_id="exportJobHistory",
    description="What `docflow replay-check` replays against the workflow code of the job's "
    "version (`docflow export-history JOB`). With verified callers, an admin's.",
    responses=openapi_responses(200, "the history", JobHistory, 400, 401, 403, 404, 502, 503),
)
def history(job_id: Annotated[str, Path(alias="jobId")]) -> Response[str]:
    logger.append_keys(jobId=job_id)
    exported = export_history(job_id, caller_in(app.current_event.raw_event))
    return Response(200, "application/json", exported.model_dump_json(by_alias=True))


@app.get(
    "/jobs/<jobId>/pages/<page>",
    summary="The picture of a job's page, on which its fields' evidence boxes are",
    operation_id="getPagePicture",
    description="A grey JPEG of the page as its text was read (OCR's image, upright and "
    "cropped; or the PDF page rendered), for the first 20 pages. Each field's `box` gives "
    "its evidence line on it, as fractions of the picture's width and height.",
    responses=openapi_responses(200, "the picture", "image/jpeg", 400, 401, 404, 422, 502, 503),
)
def page_picture(
    job_id: Annotated[str, Path(alias="jobId")], page: Annotated[int, Path(ge=1)]
) -> Response[str]:
    logger.append_keys(jobId=job_id)
    picture = picture_of_page(job_id, page, caller_in(app.current_event.raw_event))
    # Base64 text, as API Gateway carries a binary body: as bytes, powertools' response
    # validation would read the JPEG as UTF-8.
    headers = {"Cache-Control": "private, max-age=300"}
    answer = Response(200, "image/jpeg", base64.b64encode(picture).decode(), headers=headers)
    answer.base64_encoded = True
    return answer


@logger.inject_lambda_context(clear_state=True)  # no jobId left from the last request
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context, logger, StatusSettings.current().api_token)
