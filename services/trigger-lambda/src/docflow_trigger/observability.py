"""Logger, Metrics and Tracer of the trigger, created once and imported everywhere else."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "docflow-trigger"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="docflow", service=SERVICE)
tracer = Tracer(service=SERVICE)
