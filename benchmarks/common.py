"""Shared benchmark plumbing: machine description, tables, appending results to docs/ (the
benchmarks to docs/benchmarks.md, the reliability runs to docs/reliability.md)."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "benchmarks.md"
RELIABILITY = ROOT / "docs" / "reliability.md"
PREAMBLES = {
    RESULTS: "# docflow benchmarks\n\nEvery section below was appended by the command it names; "
    "compare ratios within one section (one run, one machine), not absolute times across "
    "sections.\n",
    RELIABILITY: "# docflow reliability runs\n\nEvery section below was appended by the run it "
    "names (`make test` runs the small scale, `make chaos` the full one).\n",
}


def machine() -> str:
    mem_kb = 0
    with Path("/proc/meminfo").open() as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return (
        f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB RAM, "
        f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    )


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def precision_recall(tally: Counter[str]) -> tuple[float, float, str]:
    """Precision and recall of a tally of ``tp`` (right), ``fp`` (a wrong value) and ``miss``
    (no right value), and "right / expected"; nothing to judge counts as 1.0."""
    tp, fp, miss = tally["tp"], tally["fp"], tally["miss"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + miss) if tp + miss else 1.0
    return precision, recall, f"{tp} / {tp + miss}"


def score_cells(tally: Counter[str]) -> list[str]:
    """A table's precision, recall and "right / expected" cells for ``tally``."""
    precision, recall, right = precision_recall(tally)
    return [f"{precision:.2f}", f"{recall:.2f}", right]


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def command_line(module: str) -> str:
    """How this run was started (``make bench`` runs each module without arguments)."""
    return " ".join(["make bench:", "python -m", module, *sys.argv[1:]])


def publish(title: str, command: str, sections: list[str], results: Path = RESULTS) -> None:
    """Print the results and append them, with date, machine and command, to ``results``."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"## {title}\n\n- date: {stamp}\n- machine: {machine()}\n- command: `{command}`"
    text = "\n\n".join([header, *sections])
    print(text)
    results.parent.mkdir(parents=True, exist_ok=True)
    if not results.exists():
        results.write_text(PREAMBLES[results])
    with results.open("a") as out:
        out.write("\n" + text + "\n")


def median(values: list[float]) -> float:
    return statistics.median(values)


def python() -> str:
    return sys.executable
