"""The workflow versions in use: what an operator checks before retiring one (a worker that
drops a version strands the jobs still in flight on it)."""

from __future__ import annotations

from collections import Counter, defaultdict

from docflow_shared.identity import Caller
from docflow_shared.models import WorkflowVersionInUse, WorkflowVersions
from docflow_shared.workflow import LATEST_WORKFLOW_VERSION
from docflow_shared.workflow_records import version_of

from ..dal.workflows import job_roots, live_workers

#: How many jobs in flight ``GET /versions`` counts at most (one Resonate search page per 100).
COUNT_LIMIT = 10_000


def workflow_versions(caller: Caller | None = None) -> WorkflowVersions:
    """Every version with jobs in flight or live workers (and the newest), oldest first."""
    if caller is not None:
        caller.may_operate("listing the workflow versions")
    roots = job_roots("pending", COUNT_LIMIT + 1)
    in_flight = Counter(version_of(root) for root in roots[:COUNT_LIMIT])
    workers = live_workers()
    running: dict[int, list[str]] = defaultdict(list)
    for worker, versions in (workers or {}).items():
        for version in versions:
            running[version].append(worker)
    known = sorted({*in_flight, *running, LATEST_WORKFLOW_VERSION})
    listed = [
        WorkflowVersionInUse(version=version, jobs_in_flight=in_flight[version],
                             workers=sorted(running[version]) if workers is not None else None)
        for version in known
    ]  # fmt: skip
    return WorkflowVersions(versions=listed, newest=LATEST_WORKFLOW_VERSION,
                            counted_all=len(roots) <= COUNT_LIMIT)  # fmt: skip
