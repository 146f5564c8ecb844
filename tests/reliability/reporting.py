"""What the reliability tests share: their scale, and where their results go.

``make chaos`` (``DOCFLOW_RELIABILITY_SCALE=full``) runs them at full scale and appends each
result table to docs/reliability.md; ``make test`` runs them small and only prints the tables
(shown with the test's output when it fails), so a test run leaves the docs as they were.
"""

from __future__ import annotations

import os

from benchmarks.common import RELIABILITY, publish

FULL = os.environ.get("DOCFLOW_RELIABILITY_SCALE") == "full"


def report(title: str, sections: list[str]) -> None:
    if FULL:
        publish(title, "make chaos", sections, results=RELIABILITY)
    else:
        print("\n\n".join([f"## {title} (make test, small scale)", *sections]))
