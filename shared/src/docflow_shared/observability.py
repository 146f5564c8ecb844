"""Logging conventions every process shares (JSON lines from aws-lambda-powertools' Logger)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter


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


def json_logging(service: str, level: int = logging.INFO) -> None:
    """Make everything a process writes through ``logging`` (its own loggers, and libraries':
    asyncio, botocore, aiohttp; Python's warnings too) a JSON line with ``service``, like the
    lines of powertools' Logger. A process calls this once, at start."""
    handler = logging.StreamHandler()
    handler.setFormatter(LambdaPowertoolsFormatter(service=service))
    handler.addFilter(_not_written_yet)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.captureWarnings(True)


def _not_written_yet(record: logging.LogRecord) -> bool:
    """A powertools Logger writes its lines with its own handler, then passes them on to the
    root logger: those must not be written twice."""
    return not logging.getLogger(record.name).handlers
