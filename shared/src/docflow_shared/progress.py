"""The workers' progress record of each job: what Resonate's promises cannot hold.

A step's promise says when it started and when its checkpoint was written, and nothing can be
added to it later. How many attempts a step took, which worker ran it, and whether a worker is
still alive on the job change during the step, so the workers keep them in one small Redis hash
per job, ``docflow:progress:<jobId>``:

- ``<step>.attempts``: attempts begun, by any worker: retries after an error, and a killed
  worker's attempt, included; extract's page batches count under ``pages <first>-<last>``;
- ``<step>.worker``: the worker of the latest attempt, ``<step>.startedAt`` when it began
  (epoch ms);
- ``seenAt``: epoch ms of the last sign of a worker on the job: an attempt starting or ending,
  and a heartbeat while a step (or a page batch) runs, three per ``DOCFLOW_STUCK_AFTER``, so a
  live worker is never taken for a missing one.

The status Lambda reads it. Losing it loses only those details: the status itself comes from
Resonate alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def progress_key(job_id: str) -> str:
    return f"docflow:progress:{job_id}"


def page_batch_name(first: int, last: int) -> str:
    """Where a page batch's attempts are counted: it is part of extract, not a step."""
    return f"pages {first}-{last}"


_PAGE_BATCH = re.compile(r"pages (\d+)-(\d+)")


@dataclass(frozen=True)
class StepProgress:
    attempts: int
    worker: str | None
    latest_started_at_ms: int | None = None


@dataclass(frozen=True)
class JobProgress:
    steps: dict[str, StepProgress]
    seen_at_ms: int | None

    @classmethod
    def from_hash(cls, fields: dict[str, str]) -> JobProgress:
        steps = {}
        for name, value in fields.items():
            if name.endswith(".attempts"):
                step = name.removesuffix(".attempts")
                started = fields.get(f"{step}.startedAt")
                steps[step] = StepProgress(
                    int(value), fields.get(f"{step}.worker"), int(started) if started else None
                )
        seen = fields.get("seenAt")
        return cls(steps, int(seen) if seen else None)

    @property
    def page_batches(self) -> dict[tuple[int, int], StepProgress]:
        """extract's page batches, by ``(first, last)``."""
        return {
            (int(match[1]), int(match[2])): step
            for name, step in self.steps.items()
            if (match := _PAGE_BATCH.fullmatch(name))
        }
