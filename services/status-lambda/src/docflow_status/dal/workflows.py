"""Reading a workflow's durable promises from Resonate: the one source of job progress."""

from __future__ import annotations

from docflow_shared.resonate_client import LambdaResonate
from resonate.resonate import Resonate
from resonate.types import PromiseRecord

resonate = LambdaResonate()


def workflow_promises(workflow_id: str) -> tuple[PromiseRecord, dict[str, PromiseRecord]]:
    """The root promise and its direct children by id (``JobNotFound`` if there is no root)."""

    async def read(client: Resonate) -> tuple[PromiseRecord, dict[str, PromiseRecord]]:
        root = await client.promises.get(workflow_id)
        page = await client.promises.search(None, {"resonate:parent": workflow_id}, 100, None)
        return root, {p.id: p for p in page.promises if p.id != workflow_id}

    return resonate.call(read)
