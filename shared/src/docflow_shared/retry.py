"""One retry policy for every call docflow makes to another service over HTTP (document
downloads, webhook deliveries, the LLM endpoint) and for its own steps: what is worth retrying,
and how long to wait before the next attempt."""

from __future__ import annotations

import random
from dataclasses import dataclass


def is_transient(status: int) -> bool:
    """A timeout (408), throttling (429) or a server error (5xx) may pass; any other 4xx is the
    request's own fault and never will."""
    return status in (408, 429) or status >= 500


def retry_after_seconds(header: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (the delta form; an HTTP date is ignored)."""
    try:
        return max(0.0, float(header or ""))
    except ValueError:
        return None


@dataclass(frozen=True)
class Backoff:
    """Exponential: ``first_seconds``, doubling per attempt, at most ``max_seconds``; with
    ``jitter`` a random share of it taken off, so retries of many clients spread out."""

    first_seconds: float
    max_seconds: float
    jitter: float = 0.0  # 0.5: between half of the delay and all of it

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """How long to wait after failed attempt ``attempt`` (1 for the first); a server's
        ``Retry-After`` replaces the computed delay, within the same cap."""
        if retry_after is not None:
            return min(retry_after, self.max_seconds)
        delay = min(self.first_seconds * 2.0 ** (attempt - 1), self.max_seconds)
        return delay * random.uniform(1 - self.jitter, 1.0)
