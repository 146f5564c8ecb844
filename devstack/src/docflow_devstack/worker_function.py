"""The worker function as the local stack runs it (``DOCFLOW_WORKER_MODE=serverless``): the
deployed one, ``docflow_worker.serverless``, with the demo's step delay and drill
(``DOCFLOW_DEMO_STEP_DELAY``, ``DOCFLOW_DEMO_FAILING_STEP``), which the deployed function has no
way to read: they are the long-running worker's command-line flags only."""

from __future__ import annotations

import os

from docflow_worker.retrying import demo
from docflow_worker.serverless import lambda_handler

demo.step_delay_seconds = max(0.0, float(os.environ.get("DOCFLOW_DEMO_STEP_DELAY") or 0))
demo.failing_step = os.environ.get("DOCFLOW_DEMO_FAILING_STEP") or None

__all__ = ["lambda_handler"]
