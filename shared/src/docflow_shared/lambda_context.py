"""A Lambda context object for running a handler outside Lambda (the local gateway, tests).

No handler imports this: it is not loaded on a cold start in AWS.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

INVOKE_TIMEOUT_SECONDS = 30  # API Gateway's integration timeout


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and powertools read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    deadline: float = field(default_factory=lambda: time.monotonic() + INVOKE_TIMEOUT_SECONDS)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))
