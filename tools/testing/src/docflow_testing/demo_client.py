"""A real SDK client process: start ``three_steps`` on the worker group, print each result.

    python -m docflow_testing.demo_client URL WORKFLOW_ID VALUE [--count N] [--timeout 60]

With ``--count N`` it starts N workflows ``WORKFLOW_ID-0`` … at once and prints one line each.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from resonate.resonate import Resonate


async def run(url: str, ids: list[str], value: int, patience: float) -> None:
    resonate = Resonate(url=url, group="clients")
    try:
        workers = resonate.options(target="workers")
        handles = [workers.rpc(workflow_id, "three_steps", value) for workflow_id in ids]
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), patience)
        for workflow_id, result in zip(ids, results, strict=True):
            record = await resonate.promises.get(workflow_id)
            line = {"id": workflow_id, "result": result, "state": record.state}
            print(json.dumps({**line, "value": record.value.data}), flush=True)
    finally:
        await resonate.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("workflow_id")
    parser.add_argument("value", type=int)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    ids = [f"{args.workflow_id}-{i}" for i in range(args.count)] or [args.workflow_id]
    asyncio.run(run(args.url, ids, args.value, args.timeout))


if __name__ == "__main__":
    main()
