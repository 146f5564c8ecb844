"""Logger and Metrics of the trigger, created once and imported everywhere else.

No powertools Tracer in the front doors: Lambda's active tracing (template.yaml) records every
invocation and its init without it, and the X-Ray SDK it loads cost ~9 ms of every cold start
for a subsegment around the one call the handler makes.
"""

import warnings
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from .logic.start_job import JobStarted

SERVICE = "docflow-trigger"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="docflow", service=SERVICE)
# A request that counts nothing (a status 404, a refused approval) is normal, not a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count_started(started: "JobStarted") -> None:
    """JobsAccepted for every job a request was answered 202 for; JobsDeduplicated for those
    whose workflow already existed (a retry, a duplicate message): they started nothing."""
    metrics.add_metric(name="JobsAccepted", unit=MetricUnit.Count, value=1)
    if started.deduplicated:
        metrics.add_metric(name="JobsDeduplicated", unit=MetricUnit.Count, value=1)
