"""``docflow-worker``: a long-running member of the Resonate worker group."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from docflow_shared.observability import json_logging
from docflow_shared.resonate_client import worker_client
from docflow_shared.settings import SettingsError, WorkerSettings
from docflow_shared.url_guard import shown_url
from docflow_shared.workflow import EXTRACT_PAGES_NAME, WAIT_TIMER_NAME, WORKFLOW_NAME
from resonate.retry import Never

from .dal.signals import JobSignals
from .observability import SERVICE, logger
from .retrying import checkpoint, demo, drain
from .steps.extract import extract_pages
from .workflow import process_document, wait_timer

# How long SIGTERM waits for the steps in flight (a container platform's stop timeout is
# typically 30 s), and then for the SDK to checkpoint the last result.
SHUTDOWN_GRACE_SECONDS = 25.0
CHECKPOINT_GRACE_SECONDS = 1.0


async def serve() -> None:
    settings = WorkerSettings.current()
    # Steps retry on their own terms (see retrying.py); the SDK must not retry them blindly.
    resonate = worker_client(settings, retry_policy=Never())
    resonate.with_dependency(JobSignals(resonate.promises))
    resonate.register(process_document, name=WORKFLOW_NAME)
    resonate.register(wait_timer, name=WAIT_TIMER_NAME)
    resonate.register(checkpoint(extract_pages), name=EXTRACT_PAGES_NAME)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logger.info(
        "worker ready",
        extra={"resonateUrl": shown_url(settings.resonate_url), "group": settings.worker_group,
               "taskTtlSeconds": settings.task_ttl_seconds},
    )  # fmt: skip
    await stop.wait()
    logger.info("worker stopping: finishing the steps in flight, starting no new one")
    try:
        async with asyncio.timeout(SHUTDOWN_GRACE_SECONDS):
            await drain.until_idle()
        await asyncio.sleep(CHECKPOINT_GRACE_SECONDS)  # the SDK records the last step's result
    except TimeoutError:
        logger.warning("steps still running at shutdown; another worker will redo them")
    # No resonate.stop(): it would wait for the workflows parked at their next step. Their
    # leases lapse and other workers resume them where they are.
    logger.info("worker stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-worker", description=__doc__)
    parser.add_argument(
        "--demo-step-delay", type=float, default=0.0, metavar="SECONDS",
        help="local demo and tests only: every step waits this long first",
    )  # fmt: skip
    parser.add_argument(
        "--demo-failing-step", default=None, metavar="STEP",
        help="drills and tests only: this step raises on every attempt, as a bug would",
    )  # fmt: skip
    args = parser.parse_args(argv)
    json_logging(SERVICE, logging.WARNING)  # the SDK's and libraries' lines, as JSON
    try:
        WorkerSettings.current()
    except SettingsError as err:
        logger.error("cannot start", extra={"error": str(err)})
        sys.exit(f"docflow-worker: {err}")
    demo.step_delay_seconds = max(0.0, args.demo_step_delay)
    demo.failing_step = args.demo_failing_step or None
    asyncio.run(serve())


if __name__ == "__main__":
    main()
