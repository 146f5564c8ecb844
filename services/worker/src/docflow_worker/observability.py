"""The worker's logger: JSON lines with ``service``, and ``jobId``/``step``/``attempt`` per step."""

from aws_lambda_powertools import Logger

logger = Logger(service="docflow-worker")
