"""Reading jobs from Resonate (the one source of job progress) and the workers' progress
record from Redis (attempts, workers, heartbeats: see ``docflow_shared.progress``)."""

from __future__ import annotations

import json
from functools import lru_cache

from docflow_shared.progress import JobProgress, progress_key
from docflow_shared.resonate_http import ContainerClient, PromiseRecord
from docflow_shared.resp import RedisError, Resp
from docflow_shared.settings import StatusSettings
from docflow_shared.workflow import JOB_KIND, KIND_TAG, LIVE_WORKER_PREFIX
from docflow_shared.workflow_history import JobHistory, read_history
from docflow_shared.workflow_records import WorkflowRecords, read_workflow

from ..observability import logger

resonate = ContainerClient(StatusSettings.current)
PAGE = 100


def workflow_records(workflow_id: str) -> WorkflowRecords:
    """The root promise and its children (``JobNotFound`` if there is no root)."""
    with resonate.operation() as client:
        return read_workflow(client, workflow_id)


def job_history(job_id: str) -> JobHistory:
    """The job's root promise and its children, for export (``JobNotFound`` without a root)."""
    with resonate.operation() as client:
        return read_history(client, job_id)


def job_roots(state: str | None, scan_limit: int) -> list[PromiseRecord]:
    """Jobs' root promises (in ``state``, if given), at most ``scan_limit`` of them."""
    roots: list[PromiseRecord] = []
    cursor = None
    with resonate.operation() as client:
        while len(roots) < scan_limit:
            page = client.search(state, {KIND_TAG: JOB_KIND}, PAGE, cursor)
            roots += page.promises
            cursor = page.cursor
            if not cursor:
                break
    return roots[:scan_limit]


@lru_cache(maxsize=1)
def _redis() -> Resp | None:
    url = StatusSettings.current().redis_url
    # A short timeout: without the record the status is still right, only less detailed.
    return Resp(url, timeout=0.5) if url else None


def job_progress(job_id: str) -> JobProgress | None:
    """The workers' progress record of the job; ``None`` without one (no Redis configured, or
    it cannot be read)."""
    client = _redis()
    if client is None:
        return None
    try:
        return JobProgress.from_hash(client.hgetall(progress_key(job_id)))
    except RedisError as err:
        logger.warning("progress record unavailable", extra={"error": str(err)})
        return None


def live_workers() -> dict[str, list[int]] | None:
    """Each live worker and the workflow versions it runs, from their liveness records;
    ``None`` when they cannot be read (no Redis configured, or none answering)."""
    client = _redis()
    if client is None:
        return None
    try:
        keys = client.scan_keys(f"{LIVE_WORKER_PREFIX}*")
        records = client.mget(keys) if keys else []
    except RedisError as err:
        logger.warning("liveness records unavailable", extra={"error": str(err)})
        return None
    # A record that expired between the scan and the read is gone: so is its worker.
    return {key.removeprefix(LIVE_WORKER_PREFIX): [int(v) for v in json.loads(record)["versions"]]
            for key, record in zip(keys, records, strict=True) if record}  # fmt: skip


def live_worker_versions() -> set[int] | None:
    """The workflow versions the live workers run (None: unknown)."""
    workers = live_workers()
    return None if workers is None else {v for versions in workers.values() for v in versions}
