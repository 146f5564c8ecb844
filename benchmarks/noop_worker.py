"""A worker whose workflow is a few empty durable steps: what the server costs, nothing else.

python -m benchmarks.noop_worker URL
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from resonate.context import Context
from resonate.resonate import Resonate


async def noop_step(ctx: Context, number: int) -> int:
    return number


async def noop_steps(ctx: Context, steps: int) -> int:
    """``steps`` empty durable steps in a row; returns 1 + 2 + ... + steps."""
    total = 0
    for number in range(1, steps + 1):
        total += await ctx.run(noop_step, number)
    return total


def noop_total(steps: int) -> int:
    """What ``noop_steps(steps)`` returns."""
    return steps * (steps + 1) // 2


def register(resonate: Resonate) -> None:
    resonate.register(noop_steps)
    resonate.register(noop_step)


async def serve(url: str) -> None:
    resonate = Resonate(url=url, group="workers", ttl=timedelta(seconds=30))
    register(resonate)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
