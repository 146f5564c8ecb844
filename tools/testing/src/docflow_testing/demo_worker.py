"""A real SDK worker for the dev server tests: a 3-step workflow with observable side effects.

Each step appends a line ``<step> <worker-name>`` to ``<effects_dir>/<workflow id>.log`` when it
runs, so a test can count executions. A step named in ``--hold-step`` waits (without finishing)
until the file ``<effects_dir>/release`` exists, so a test can kill the worker mid-step.

    python -m docflow_testing.demo_worker URL EFFECTS_DIR --name w1 [--ttl 2] [--hold-step 2]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta
from pathlib import Path

from resonate.context import Context
from resonate.resonate import Resonate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("effects_dir", type=Path)
    parser.add_argument("--name", default="worker")
    parser.add_argument("--ttl", type=float, default=2.0)
    parser.add_argument("--hold-step", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.url, args.effects_dir, args.name, args.ttl, args.hold_step))


async def serve(url: str, effects: Path, name: str, ttl: float, hold_step: int) -> None:
    async def step(ctx: Context, number: int, value: int) -> int:
        log = effects / f"{ctx.info.origin_id}.log"
        with log.open("a") as out:
            out.write(f"{number} {name}\n")
        if number == hold_step:
            (effects / f"holding-{number}").write_text(name)
            while not (effects / "release").exists():  # noqa: ASYNC110 - the test writes it
                await asyncio.sleep(0.05)
        return value + number

    async def three_steps(ctx: Context, value: int) -> int:
        one = await ctx.run(step, 1, value)
        two = await ctx.run(step, 2, one)
        return await ctx.run(step, 3, two)

    resonate = Resonate(url=url, group="workers", pid=name, ttl=timedelta(seconds=ttl))
    resonate.register(three_steps)
    resonate.register(step)
    (effects / f"ready-{name}").write_text(str(time.time()))
    await asyncio.Event().wait()


if __name__ == "__main__":
    main()
