"""Logger, Metrics and Tracer of the status service, created once and imported everywhere else."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "docflow-status"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="docflow", service=SERVICE)
tracer = Tracer(service=SERVICE)
