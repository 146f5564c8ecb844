"""The worker's logger and metrics.

Log lines are JSON with ``service`` and ``worker``; within a step also ``jobId``, ``step``,
``attempt`` and ``correlation_id`` (powertools' name for it): ``retrying.checkpoint`` sets them
for everything the step logs. Metrics are CloudWatch EMF lines on stdout, one per event: a
long-running process has no Lambda invocation to flush them at.
"""

from __future__ import annotations

import os
import socket
import time

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from .domain import Job

SERVICE = "docflow-worker"
#: Who ran a step, in logs and in the progress record: host and process.
WORKER_ID = os.environ.get("DOCFLOW_WORKER_ID") or f"{socket.gethostname()}:{os.getpid()}"

logger = Logger(service=SERVICE)
logger.append_keys(worker=WORKER_ID)


def metric(name: str, unit: MetricUnit, value: float, **dimensions: str) -> None:
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace="docflow",
        default_dimensions={"service": SERVICE},
    ) as emitted:
        for key, dimension in dimensions.items():
            emitted.add_dimension(name=key, value=dimension)


def step_finished(step: str, seconds: float, attempts: int, outcome: str) -> None:
    metric("StepDuration", MetricUnit.Seconds, seconds, step=step, outcome=outcome)
    metric("StepAttempts", MetricUnit.Count, attempts, step=step, outcome=outcome)


def job_finished(job: Job, outcome: str) -> None:
    """Time from acceptance (the trigger's clock) to the job's end, by outcome."""
    if job.accepted_at:
        seconds = max(0.0, time.time() - job.accepted_at / 1000)
        metric("JobDuration", MetricUnit.Seconds, seconds, outcome=outcome)
