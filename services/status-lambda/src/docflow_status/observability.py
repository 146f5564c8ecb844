"""Logger and Tracer of the status service, created once and imported everywhere else."""

from aws_lambda_powertools import Logger, Tracer

SERVICE = "docflow-status"
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
