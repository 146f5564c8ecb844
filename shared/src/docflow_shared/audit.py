"""The audit trail: each decision on a job (approve, reject, cancel, redrive) is written with who
took it, when, and from which request, into the very promise value that carries the decision. So
the record cannot disagree with what happened: no decision without its entry, nor the reverse.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from .models import AuditEvent

#: The key of a decision's promise value that holds its audit entry.
AUDIT_KEY = "audit"


def audit_entry(
    action: str, by: str | None, verified: bool, correlation_id: str, comment: str | None = None
) -> dict[str, Any]:
    """The audit entry of a decision taken now, to store under ``AUDIT_KEY`` in its value."""
    at = datetime.fromtimestamp(time.time(), UTC)
    event = AuditEvent.model_validate({"action": action, "by": by, "verified": verified,
                                       "at": at, "correlationId": correlation_id or None,
                                       "comment": comment})  # fmt: skip
    return event.model_dump(mode="json", by_alias=True)


def audit_event_in(value: Any) -> AuditEvent | None:
    """The audit entry a decision's promise value holds (None: a value without one, such as a
    timer's or a decision taken before audit entries existed)."""
    entry = value.get(AUDIT_KEY) if isinstance(value, dict) else None
    if entry is None:
        return None
    try:
        return AuditEvent.model_validate(entry)
    except ValidationError:
        return None
