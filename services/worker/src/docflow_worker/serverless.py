"""The worker as a Lambda function: Resonate pushes each task to its function URL (HTTP push),
and one invocation drives it until it is done or waits (``resonate_aws``, Resonate's own
serverless worker). Same workflows, same versions, same histories as ``docflow-worker``: a
deployment may switch modes, or run both, with jobs in flight.

What differs, and why:

- **One step per invocation.** A job's steps are local checkpoints (``ctx.run``), so a worker
  would run them one after the other in one go; a Lambda must not (its 15-minute ceiling is for
  one step, not a job). After an invocation has run one step, the next step it reaches hands
  the task back (the SDK releases it), and the server pushes it again at once: the next
  invocation replays the checkpoints and runs that step. Page batches are tasks of their own,
  so each is an invocation of its own. A wait (an approval, a redrive) costs no invocation.
- **No heartbeat.** A Lambda cannot renew a lease in the background, so the lease
  (``DOCFLOW_TASK_TTL``) must outlast the function's timeout: a function that dies mid-step is
  pushed its task again when the lease lapses, and resumes at that step.
- **A bearer token.** The server cannot sign requests with SigV4, so the function URL is public
  (``AuthType: NONE``) and the function checks the token the server sends
  (``DOCFLOW_PUSH_TOKEN``; the server's ``--transports-http-push-auth-token``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from datetime import timedelta
from typing import Any

from docflow_shared.errors import JobNotFound
from docflow_shared.observability import json_logging
from docflow_shared.resonate_http import ResonateHttp
from docflow_shared.settings import WorkerSettings
from resonate.error import ServerError
from resonate.retry import Never
from resonate.types import Value
from resonate_aws import Resonate

from .dal.progress import announce
from .dal.signals import JobSignals
from .observability import SERVICE, logger
from .retrying import NextInvocation, invocation
from .workflows import VERSIONS
from .workflows.durable import register

SIGNALS_BUDGET_SECONDS = 10.0
#: How much longer than the function's timeout a pushed task's lease lasts: only a function
#: that died (or timed out) mid-step is pushed its task again.
LEASE_MARGIN = timedelta(seconds=10)


class StepPerInvocation(Resonate):
    """``resonate_aws.Resonate``, where a task handed back for the next invocation
    (``NextInvocation``) is an invocation that ended well, not a failed one."""

    async def _drive(self, server_url: str, function_url: str, task_id: str, version: int) -> str:
        try:
            return await super()._drive(server_url, function_url, task_id, version)
        except NextInvocation:
            return "suspended"  # released: the server pushes it again at once


class HttpPromises:
    """The two promise calls ``JobSignals`` makes, over the stdlib client: an invocation's
    event loop ends with it, so the function keeps no SDK client between invocations."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def get(self, id: str) -> Any:
        try:
            return await asyncio.to_thread(self._client().get, id)
        except JobNotFound as missing:
            raise ServerError(404, str(missing)) from missing

    async def resolve(self, id: str, value: Value) -> Any:
        return await asyncio.to_thread(self._client().settle, id, "resolved", value.data)

    def _client(self) -> ResonateHttp:
        return ResonateHttp(self.url, SIGNALS_BUDGET_SECONDS)


class NotTheReleaseLog(logging.Filter):
    """The SDK logs a released task as an error with its traceback; a task handed on to the
    next invocation is the plan, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], NextInvocation))


def worker_function() -> StepPerInvocation:
    """Every workflow version, and what it calls by name, on the Lambda shim."""
    settings = WorkerSettings.current()
    lease = timedelta(seconds=settings.function_timeout_seconds) + LEASE_MARGIN
    # Steps retry on their own terms (retrying.py), as on the worker: the SDK must not retry
    # them blindly (here each retry would be another invocation, without end).
    resonate = StepPerInvocation(url=settings.resonate_url, ttl=lease, retry_policy=Never())
    resonate.with_dependency(JobSignals(HttpPromises(settings.resonate_url)))
    for version, workflow in VERSIONS.items():
        register(resonate, workflow, version)
    return resonate


# The function's init, once per execution environment.
json_logging(SERVICE, logging.WARNING)
logging.getLogger("resonate.core").addFilter(NotTheReleaseLog())
run_task = worker_function().handler()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A task Resonate pushed, if the request carries the push token: one step of it at most."""
    token = WorkerSettings.current().push_token
    sent = (event.get("headers") or {}).get("authorization", "")
    if token is not None and not hmac.compare_digest(
        sent.encode(), f"Bearer {token.get_secret_value()}".encode()
    ):
        return {"statusCode": 401, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"error": "unauthorized",
                                    "message": "a push needs the push token"})}  # fmt: skip
    logger.append_keys(invocation=context.aws_request_id)
    announce(sorted(VERSIONS))  # the function is a live worker of every version it has
    invocation.begin(step_limit=1)
    return run_task(event, context)
