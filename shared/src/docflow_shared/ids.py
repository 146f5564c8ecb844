"""The durable id scheme: job ``demo-1`` runs as the root promise ``doc/demo-1``.

Job ids may contain ``:`` and ``.`` (the contract allows ``[A-Za-z0-9._:-]``), but inside a
promise id ``:`` separates the origin from its lineage (the SDK refuses it in a root id) and
newer servers reserve ``.`` in an origin. Both are therefore percent-escaped in the workflow id,
losslessly, so every valid job id maps to exactly one workflow and back.
"""

from __future__ import annotations

import re

from .errors import InvalidJob

JOB_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
WORKFLOW_PREFIX = "doc/"

_JOB_ID = re.compile(JOB_ID_PATTERN)
_ESCAPES = {":": "%3A", ".": "%2E"}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}


def is_valid_job_id(job_id: str) -> bool:
    return _JOB_ID.fullmatch(job_id) is not None


def require_valid_job_id(job_id: str) -> str:
    """``job_id`` if valid, else ``InvalidJob`` (a 400) naming the rule."""
    if not is_valid_job_id(job_id):
        raise InvalidJob(f"invalid jobId {job_id!r}: expected 1-128 of [A-Za-z0-9._:-]")
    return job_id


def workflow_id(job_id: str) -> str:
    """``doc/<jobId>``, with the characters promise ids reserve escaped."""
    if not is_valid_job_id(job_id):
        msg = f"invalid job id {job_id!r}: expected 1-128 of [A-Za-z0-9._:-]"
        raise ValueError(msg)
    return WORKFLOW_PREFIX + "".join(_ESCAPES.get(c, c) for c in job_id)


def job_id_of(promise_id: str) -> str | None:
    """The job a root workflow promise belongs to, or None for any other promise."""
    if not promise_id.startswith(WORKFLOW_PREFIX) or ":" in promise_id:
        return None
    escaped = promise_id[len(WORKFLOW_PREFIX) :]
    job_id = re.sub(r"%3A|%2E", lambda m: _UNESCAPES[m.group(0)], escaped)
    return job_id if is_valid_job_id(job_id) and workflow_id(job_id) == promise_id else None
