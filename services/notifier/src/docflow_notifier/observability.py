"""The notifier's logger: JSON lines with ``service``, and ``jobId``/``eventId`` per delivery."""

from aws_lambda_powertools import Logger

logger = Logger(service="docflow-notifier")
