"""The notifier's logger (JSON lines with ``service``, and ``jobId``/``eventId``/``attempt``/
``correlation_id`` per delivery) and its metrics (CloudWatch EMF lines on stdout)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "docflow-notifier"
logger = Logger(service=SERVICE)


def count_delivery(outcome: str) -> None:
    """One webhook delivery attempt's outcome: delivered, retrying or dead_lettered."""
    with single_metric(
        name="WebhookDeliveries",
        unit=MetricUnit.Count,
        value=1,
        namespace="docflow",
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name="outcome", value=outcome)
