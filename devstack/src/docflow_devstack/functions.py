"""Lambda functions as the local stack calls them: in this process, or in a Lambda container.

Natively (``make up``) a function is its ``module:lambda_handler``, imported here. Under compose
each function is its own container on the AWS Lambda base image, whose runtime interface
emulator takes invocations over HTTP; :func:`remote_function` calls it the way Lambda would.
"""

from __future__ import annotations

import importlib
import json
import urllib.request
from collections.abc import Callable
from typing import Any

from docflow_shared.lambda_context import INVOKE_TIMEOUT_SECONDS

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# The HTTP API's routes and their functions, as in template.yaml.
ROUTES: list[tuple[str, str, str]] = [
    ("POST", "/process-document", "docflow_trigger.handlers.http:lambda_handler"),
    ("POST", "/jobs/{jobId}/approval", "docflow_trigger.handlers.http:lambda_handler"),
    ("POST", "/jobs/{jobId}/cancel", "docflow_trigger.handlers.http:lambda_handler"),
    ("POST", "/jobs/{jobId}/redrive", "docflow_trigger.handlers.http:lambda_handler"),
    ("GET", "/status/{jobId}", "docflow_status.handlers.http:lambda_handler"),
    ("GET", "/jobs", "docflow_status.handlers.http:lambda_handler"),
    ("GET", "/versions", "docflow_status.handlers.http:lambda_handler"),
    ("GET", "/jobs/{jobId}/history", "docflow_status.handlers.http:lambda_handler"),
    ("GET", "/jobs/{jobId}/pages/{page}", "docflow_status.handlers.http:lambda_handler"),
]

# The emulator's invoke path (the Lambda Invoke API's, for the one function a container holds).
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


class FunctionError(RuntimeError):
    """The function raised (Lambda's unhandled-error answer): the caller answers 502."""


def local_function(target: str) -> Handler:
    """``module:attr`` imported into this process."""
    module_name, _, attr = target.partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), attr)
    return handler


def remote_function(url: str) -> Handler:
    """A function in a Lambda container whose runtime interface emulator listens at ``url``."""
    endpoint = url.rstrip("/") + INVOKE_PATH

    def invoke(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the compose network's own URL
            endpoint, data=json.dumps(event).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT_SECONDS) as resp:  # noqa: S310
            answer: dict[str, Any] = json.loads(resp.read() or b"null") or {}
        if "errorType" in answer or "errorMessage" in answer:
            msg = f"{answer.get('errorType', 'Error')}: {answer.get('errorMessage', '')}"
            raise FunctionError(msg)
        return answer

    return invoke
