"""Every workflow version a worker runs, side by side, each in a module of its own (``v1``, ...).

A version stays here while jobs may be in flight on it (``docflow versions``); its module is
frozen once a newer one exists. Each worker runs each of its versions in that version's own
worker group (``docflow_shared.workflow.version_group``), so a task reaches only workers that
have its version.
"""

from __future__ import annotations

from collections.abc import Callable

from resonate.types import DurableRegistry

from . import v1

#: Each version, and how to register it (the workflow and every function it calls by name).
VERSIONS: dict[int, Callable[[DurableRegistry], None]] = {v1.VERSION: v1.register}
