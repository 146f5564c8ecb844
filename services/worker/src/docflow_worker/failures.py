"""Is a step's error an outage? Only an outage is worth retrying for long.

An outage is recognised positively, by what failed: the network (a connection refused, reset or
closed, a timeout, a name that did not resolve) or a service that said it is overloaded or
broken (throttling, a 5xx), from S3 (botocore), Redis, Resonate (aiohttp) or an HTTP service
(httpx); also when it is the declared cause (``raise … from``) of another error. Anything else
that is not the document's fault is a bug, which no number of retries fixes.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import aiohttp
import botocore.exceptions
import httpx
import redis.exceptions
from docflow_shared.retry import is_transient

NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,
    socket.gaierror,
    botocore.exceptions.ConnectionError,  # endpoint unreachable, connect timeout
    botocore.exceptions.HTTPClientError,  # read timeout, connection closed mid-answer
    redis.exceptions.ConnectionError,  # incl. a server still loading its data
    redis.exceptions.TimeoutError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ReadOnlyError,  # a failover in progress
    aiohttp.ClientConnectionError,
    httpx.TransportError,
)
# Error codes S3 (and other AWS services) answer when they shed load.
THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "ThrottledException",
                              "RequestThrottled", "SlowDown", "RequestLimitExceeded",
                              "TooManyRequestsException", "RequestTimeout"})  # fmt: skip


def is_outage(error: BaseException) -> bool:
    return any(_is_outage_itself(cause) for cause in _causes(error))


def _is_outage_itself(error: BaseException) -> bool:
    if isinstance(error, NETWORK_ERRORS):
        return True
    if isinstance(error, botocore.exceptions.ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = error.response.get("Error", {}).get("Code", "")
        return is_transient(status) or code in THROTTLING_CODES
    if isinstance(error, httpx.HTTPStatusError | aiohttp.ClientResponseError):
        status = (error.response.status_code if isinstance(error, httpx.HTTPStatusError)
                  else error.status)  # fmt: skip
        return is_transient(status)
    return False


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, then its declared causes. Not what it was raised while handling: a bug in an
    ``except ConnectionError`` block is still a bug."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__
