"""Field accuracy of the default analyzer on the labelled corpus (``benchmarks/corpus.py``).

    make bench            (python -m benchmarks.field_accuracy [--workers N])

Each document goes through the worker's own extraction (the PDF text layer, or Tesseract OCR
for a scan) and the heuristic analyzer; each expected field is then compared with what came out.
A field found with the right value is a true positive, with a wrong value a false positive (and
a miss), not found a miss. Precision = TP / (TP + FP), recall = TP / (TP + misses).
Targets (the extraction-quality issue): both ≥ 0.95 on the text PDFs, ≥ 0.85 on the scans.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from docflow_worker.analyzer import HeuristicAnalyzer
from docflow_worker.steps.extract import ocr, read_pages

from benchmarks.common import command_line, precision_recall, publish, score_cells, table
from benchmarks.corpus import Document, as_pdf, as_scan, corpus

TARGETS = {"text PDFs": 0.95, "scans": 0.85}


def analyse(doc: Document) -> tuple[str, dict[str, Any]]:
    if doc.scan:
        pages = [ocr(as_scan(doc)).text]
    else:
        pages = [p.text.text for p in read_pages(as_pdf(doc), "application/pdf", 1, 1)]
    analysis = HeuristicAnalyzer().analyze(pages, "auto")
    found = {name: f.value for name, f in analysis.fields.items()}
    return analysis.document_type, found


def same(expected: Any, found: Any) -> bool:
    def norm(value: Any) -> Any:
        if isinstance(value, list):
            return [norm(v) for v in value]
        return " ".join(str(value).split()).casefold()

    return bool(norm(expected) == norm(found))


def run(workers: int) -> None:
    documents = corpus()
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(analyse, documents))
    # (set, field) -> Counter(tp, fp, miss); the misses are listed for whoever improves it.
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    layouts: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    types: dict[str, Counter[str]] = defaultdict(Counter)
    misses: list[str] = []
    for doc, (kind, found) in zip(documents, results, strict=True):
        group = "scans" if doc.scan else "text PDFs"
        types[group]["right" if kind == doc.kind else "wrong"] += 1
        for name, expected in doc.expected.items():
            value = found.get(name)
            if value is not None and same(expected, value):
                outcome = ["tp"]
            else:
                outcome = ["fp", "miss"] if value is not None else ["miss"]
                misses.append(
                    f"{doc.name} ({doc.layout}): {name} expected {expected!r}, got {value!r}"
                )
            counts[group, name].update(outcome)
            layouts[group, doc.kind, doc.layout].update(outcome)

    rows, verdicts = [], []
    for group, target in TARGETS.items():
        total: Counter[str] = Counter()
        for (set_name, name), tally in sorted(counts.items()):
            if set_name != group:
                continue
            total.update(tally)
            rows.append([group, name, *score_cells(tally)])
        precision, recall, _ = precision_recall(total)
        rows.append([f"**{group}**", "**all fields**", *score_cells(total)])
        met = "met" if min(precision, recall) >= target else "NOT met"
        right = types[group]["right"] / sum(types[group].values())
        verdicts.append(
            f"{group}: precision {precision:.2f}, recall {recall:.2f} (target ≥ {target}): "
            f"{met}; document type right for {right:.0%}."
        )
    layout_rows = [
        [group, kind, layout, *score_cells(tally)]
        for (group, kind, layout), tally in sorted(layouts.items())
    ]
    documents_line = (
        f"{sum(not d.scan for d in documents)} text PDFs and {sum(bool(d.scan) for d in documents)}"
        " scans (skewed up to 1.5°, some turned 90° or 180°, speckled, some blurred)"
    )
    sections = [
        f"### Heuristic analyzer, field precision and recall ({documents_line})",
        table(["set", "field", "precision", "recall", "found right / expected"], rows),
        "\n".join(f"- {v}" for v in verdicts),
        "By layout (see `benchmarks/corpus.py`; `classic` and `simple` are the layouts the "
        "analyzer was first written against, the others came later):",
        table(
            ["set", "kind", "layout", "precision", "recall", "found right / expected"], layout_rows
        ),
        "Misses (first 15):\n\n" + "\n".join(f"- {m}" for m in misses[:15]) if misses else "",
    ]
    publish("Field accuracy (default analyzer)", command_line("benchmarks.field_accuracy"),
            [s for s in sections if s])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    run(args.workers)


if __name__ == "__main__":
    main()
