"""Logging conventions every process shares (JSON lines from aws-lambda-powertools' Logger)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger


@contextmanager
def log_keys(logger: Logger, **keys: Any) -> Iterator[None]:
    """Add ``keys`` to every line logged in this asyncio task (and the threads it starts with
    ``asyncio.to_thread``) until the block ends. Context-local, unlike ``append_keys``: the
    worker runs many jobs' steps at once, and each line must name its own job."""
    before = logger.thread_safe_get_current_keys()
    logger.thread_safe_append_keys(**{k: v for k, v in keys.items() if v is not None})
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(**before)
