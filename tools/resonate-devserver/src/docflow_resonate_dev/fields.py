"""Reading fields out of decoded protocol JSON.

The Resonate protocol is lenient the way the real server is: a missing or mistyped optional
field collapses to a default, a missing required one is a 400. ``bool`` never counts as an
integer (it subclasses ``int`` in Python but is not a number in JSON).
"""

from __future__ import annotations

from typing import Any

I64_MAX = (1 << 63) - 1
I64_MIN = -(1 << 63)

PROMISE_STATES = ("pending", "resolved", "rejected", "rejected_canceled", "rejected_timedout")


class ProtocolError(Exception):
    """A request the server refuses; ``status`` is the envelope's head status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def string(obj: Any, key: str) -> str:
    value = get(obj, key)
    return value if isinstance(value, str) else ""


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def i64(obj: Any, key: str, default: int) -> int:
    """An integer field, clamped to the signed 64-bit range SQLite stores."""
    value = get(obj, key)
    return max(I64_MIN, min(I64_MAX, int(value))) if is_int(value) else default


def ttl(obj: Any, key: str, default: int) -> int:
    """A lease length, clamped to the signed 64-bit range the server stores."""
    value = get(obj, key)
    if is_int(value):
        if I64_MIN <= value <= I64_MAX:
            return int(value)
        if 0 <= value <= 2**64 - 1:
            return I64_MAX
    return default


def saturating_add(a: int, b: int) -> int:
    return max(I64_MIN, min(I64_MAX, a + b))


def require_str(obj: Any, key: str) -> str:
    value = get(obj, key)
    if isinstance(value, str) and value != "":
        return value
    raise ProtocolError(400, f"missing or empty required field: {key}")


def settle_state(value: Any) -> str:
    """The state a settle asks for; anything unknown settles as ``resolved``."""
    return value if value in PROMISE_STATES else "resolved"


def tags_of(obj: Any) -> dict[str, str]:
    """The ``tags`` object as ``str -> str`` (non-string values dropped)."""
    tags = get(obj, "tags")
    if isinstance(tags, dict):
        return {k: v for k, v in tags.items() if isinstance(v, str)}
    return {}


def action_data(value: Any) -> Any:
    """The ``data`` of a nested ``{kind, head, data}`` action, or the value itself if flat."""
    if isinstance(value, dict) and "kind" in value and "data" in value:
        return value["data"]
    return value


def parse_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return max(I64_MIN, min(I64_MAX, int(value)))
    except ValueError:
        return None
