"""Every workflow version a worker runs, side by side, each in a module of its own (``v1``, ...).

What every version is built from is ``durable``. A version stays here while jobs may be in
flight on it (``docflow versions``); its module is frozen once a newer one exists. Each worker
runs each of its versions in that version's own worker group
(``docflow_shared.workflow.version_group``), so a task reaches only workers that have its
version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from . import v1, v2

#: Each version's workflow (``durable.register`` registers it with what it calls by name).
VERSIONS: dict[int, Callable[..., Awaitable[dict[str, Any]]]] = {
    v1.VERSION: v1.process_document,
    v2.VERSION: v2.process_document,
}
