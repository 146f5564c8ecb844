"""The job's promises the worker reads or settles besides its own steps (a worker dependency:
``resonate.with_dependency(JobSignals(...))``, ``ctx.get_dependency(JobSignals)``)."""

from __future__ import annotations

from typing import Any, Protocol

from docflow_shared.workflow import TIMED_OUT_DECISION, cancel_signal_id
from resonate.error import ServerError
from resonate.types import Value


class Stated(Protocol):
    @property
    def state(self) -> str: ...


class PromiseStore(Protocol):
    """The two calls of the SDK's ``Promises`` used here (``serverless`` has its own)."""

    async def get(self, id: str) -> Stated: ...
    async def resolve(self, id: str, value: Value) -> Any: ...


class JobSignals:
    def __init__(self, promises: PromiseStore) -> None:
        self.promises = promises

    async def cancel_requested(self, job_id: str) -> bool:
        """Whether ``POST /jobs/{jobId}/cancel`` resolved the job's cancel signal."""
        try:
            signal = await self.promises.get(cancel_signal_id(job_id))
        except ServerError as err:
            if err.code == 404:
                return False
            raise
        return signal.state == "resolved"

    async def time_out_wait(self, promise_id: str) -> None:
        """Settle a still-pending wait (an approval, a redrive) as "nothing in time" (a
        settled one stays as it is)."""
        await self.promises.resolve(promise_id, Value(data=TIMED_OUT_DECISION))
