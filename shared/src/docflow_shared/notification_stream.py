"""Appending to the notification stream (Redis-compatible) at most once per marker: the worker's
job events and the trigger's audit events both go through here."""

from __future__ import annotations

import json
from typing import Any, Protocol

from .workflow import NOTIFICATION_STREAM

# XADD and its marker in one atomic script: a repeat (a step re-run after a crash, before its
# checkpoint) finds the marker and returns the first event's id.
_APPEND_ONCE = """
local existing = redis.call('GET', KEYS[2])
if existing then return existing end
local id = redis.call('XADD', KEYS[1], '*', 'event', ARGV[1])
redis.call('SET', KEYS[2], id)
return id
"""


class Scripting(Protocol):
    """What of a redis-py client this needs."""

    def eval(self, script: str, numkeys: int, *keys_and_args: str) -> Any: ...


def append_once(client: Scripting, marker: str, event: dict[str, Any]) -> str:
    """Append ``event`` unless an event was already appended under ``marker``; the stream entry
    id (the first one's, on a repeat)."""
    entry = client.eval(_APPEND_ONCE, 2, NOTIFICATION_STREAM, marker, json.dumps(event))
    return entry.decode() if isinstance(entry, bytes) else str(entry)
