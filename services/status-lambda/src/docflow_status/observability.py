"""Logger of the status service, created once and imported everywhere else.

No powertools Tracer in the front doors: Lambda's active tracing (template.yaml) records every
invocation and its init without it, and the X-Ray SDK it loads cost ~9 ms of every cold start
for a subsegment around the one call the handler makes.
"""

from aws_lambda_powertools import Logger

SERVICE = "docflow-status"
logger = Logger(service=SERVICE)
