"""A job's history: its root promise and every durable call the workflow made under it, as the
store keeps them. ``GET /jobs/{jobId}/history`` exports it (``docflow export-history JOB``);
``docflow replay-check`` replays it against the workflow code of its version.

Exported values are readable JSON. A rejection keeps its message and the type of its error
(``errorType``, read from the SDK's pickle without loading it), not the pickle: a history file
must be safe to read, and to commit as a replay fixture.
"""

from __future__ import annotations

import base64
import binascii
import pickletools
from typing import Any, Literal

from pydantic import Field

from .ids import workflow_id
from .models import Wire
from .resonate_http import PromiseRecord, ResonateHttp
from .workflow_records import CHILDREN_PAGE, version_of

PICKLE_KEY = "__py_pickle"  # where the SDK keeps a rejection's pickled error


class RecordedPromise(Wire):
    """A promise as the history keeps it: ``param`` and ``value`` as JSON."""

    id: str
    state: str
    timeout_at: int
    created_at: int = 0
    settled_at: int | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    param: Any = None
    value: Any = None

    @classmethod
    def of(cls, promise: PromiseRecord) -> RecordedPromise:
        value = promise.value
        if isinstance(value, dict) and PICKLE_KEY in value:
            value = {**{k: v for k, v in value.items() if k != PICKLE_KEY},
                     "errorType": error_type(value[PICKLE_KEY])}  # fmt: skip
        return cls(id=promise.id, state=promise.state, timeout_at=promise.timeout_at,
                   created_at=promise.created_at, settled_at=promise.settled_at,
                   tags=promise.tags, param=promise.param, value=value)  # fmt: skip

    def record(self) -> PromiseRecord:
        return PromiseRecord(id=self.id, state=self.state, timeout_at=self.timeout_at,
                             param=self.param, value=self.value, tags=dict(self.tags),
                             created_at=self.created_at, settled_at=self.settled_at)  # fmt: skip


class JobHistory(Wire):
    """``GET /jobs/{jobId}/history``: the root first, then its children in call order
    (``<root>:<n>``, then the detached timers)."""

    format: Literal["docflow-history/1"] = "docflow-history/1"
    job_id: str
    workflow_version: int
    promises: list[RecordedPromise]

    @property
    def root(self) -> PromiseRecord:
        return self.promises[0].record()

    @property
    def children(self) -> list[PromiseRecord]:
        return [p.record() for p in self.promises[1:]]


def read_history(client: ResonateHttp, job_id: str) -> JobHistory:
    """The job's root and its children (the server's 404 for a missing root propagates)."""
    root_id = workflow_id(job_id)
    root = client.get(root_id)
    page = client.search(None, {"resonate:parent": root_id}, CHILDREN_PAGE, None)
    children = sorted((p for p in page.promises if p.id != root_id), key=_call_order)
    return JobHistory(job_id=job_id, workflow_version=version_of(root),
                      promises=[RecordedPromise.of(p) for p in (root, *children)])  # fmt: skip


def _call_order(promise: PromiseRecord) -> tuple[int, int | str]:
    last = promise.id.rsplit(":", 1)[1]
    return (0, int(last)) if last.isdigit() else (1, last)


def error_type(pickled: object) -> str | None:
    """The ``module.Class`` of the error a pickle holds, read from its opcodes, never loaded."""
    try:
        data = base64.b64decode(str(pickled), validate=True)
        strings: list[str] = []
        for opcode, arg, _position in pickletools.genops(data):
            if opcode.name == "GLOBAL":  # protocols 0-3: "module name"
                return str(arg).replace(" ", ".")
            if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:  # 4 on: the two last strings
                return f"{strings[-2]}.{strings[-1]}"
            if isinstance(arg, str):
                strings.append(arg)
    except (binascii.Error, ValueError):
        return None
    return None
