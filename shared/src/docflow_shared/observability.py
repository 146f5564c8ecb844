"""Logging conventions every process shares (JSON lines from aws-lambda-powertools' Logger)."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

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
    sys.stdout = WholeLines(sys.stdout)
    handler = logging.StreamHandler()
    handler.setFormatter(LambdaPowertoolsFormatter(service=service))
    handler.addFilter(_not_written_yet)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.captureWarnings(True)


class WholeLines:
    """``sys.stdout`` that writes each thread's output a whole line at a time.

    ``print`` writes a line and its newline in two calls, so a metric line printed by one
    thread (powertools' EMF) could be cut by another thread's log line between them. Here each
    thread's text waits until its newline, then the line goes out in one write.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending = threading.local()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        pending = getattr(self._pending, "text", "") + text
        lines, newline, rest = pending.rpartition("\n")
        if newline:
            with self._lock:
                self._stream.write(lines + newline)
                self._stream.flush()
        self._pending.text = rest
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _not_written_yet(record: logging.LogRecord) -> bool:
    """A powertools Logger writes its lines with its own handler, then passes them on to the
    root logger: those must not be written twice."""
    return not logging.getLogger(record.name).handlers
