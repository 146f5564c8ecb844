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
from docflow_shared.workflow import version_group
from resonate.retry import Never

from .dal.progress import announce_while_running
from .dal.signals import JobSignals
from .observability import SERVICE, logger
from .retrying import demo, drain
from .workflows import VERSIONS
from .workflows.durable import register

# How long SIGTERM waits for the steps in flight (a container platform's stop timeout is
# typically 30 s), and then for the SDK to checkpoint the last result.
SHUTDOWN_GRACE_SECONDS = 25.0
CHECKPOINT_GRACE_SECONDS = 1.0


async def serve(versions: list[int]) -> None:
    settings = WorkerSettings.current()
    for version in versions:
        # A client per version, in the version's own group: a task reaches only workers that
        # have its version. Steps retry on their own terms (see retrying.py); the SDK must not
        # retry them blindly.
        group = version_group(settings.worker_group, version)
        resonate = worker_client(settings, group=group, retry_policy=Never())
        resonate.with_dependency(JobSignals(resonate.promises))
        register(resonate, VERSIONS[version], version)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    announcing = asyncio.create_task(announce_while_running(versions))
    logger.info(
        "worker ready",
        extra={"resonateUrl": shown_url(settings.resonate_url), "group": settings.worker_group,
               "workflowVersions": versions, "taskTtlSeconds": settings.task_ttl_seconds},
    )  # fmt: skip
    await stop.wait()
    announcing.cancel()
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


def versions_list(text: str) -> list[int]:
    """``--workflow-versions``: versions this worker has, comma-separated."""
    try:
        versions = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of version numbers: {text!r}") from None
    missing = [v for v in versions if v not in VERSIONS]
    if missing or not versions:
        msg = f"this worker has workflow versions {sorted(VERSIONS)}, not {missing or text!r}"
        raise argparse.ArgumentTypeError(msg)
    return versions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-worker", description=__doc__)
    parser.add_argument(
        "--demo-step-delay", type=float, default=0.0, metavar="SECONDS",
        help="local demo and tests only: every step waits this long first",
    )  # fmt: skip
    parser.add_argument(
        "--workflow-versions", type=versions_list, default=sorted(VERSIONS), metavar="N,N",
        help=f"the workflow versions to run (default: all this worker has, {sorted(VERSIONS)})",
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
    asyncio.run(serve(args.workflow_versions))


if __name__ == "__main__":
    main()
