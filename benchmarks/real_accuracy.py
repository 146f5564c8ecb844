"""Field accuracy on real documents written by others (``benchmarks/real/``: where each comes
from, its licence and who labelled it are in ``SOURCES.md`` and ``labels.tsv``).

    make bench            (python -m benchmarks.real_accuracy [--workers N])

Each document goes the worker's own way: its type sniffed from its bytes, the text of each page
(the PDF text layer, or Tesseract OCR), the e-invoice XML it carries if any, then the analysis
the analyze step makes (``analysis_of``, the heuristic analyzer at the default confidence, a
scanned page read again by the second OCR engine from its stored picture where a required
field is missing; beside it, the same without the second engine, the same with RapidOCR in
Tesseract's place, and an LLM analyzer when ``DOCFLOW_LLM_BASE_URL`` and ``DOCFLOW_LLM_MODEL``
are set). A
field with a value that matches its label is right; with another value, wrong (a false positive
and a miss); with no value (not found, or not sure enough), a miss. Unlabelled fields are not
scored. Precision = right / (right + wrong), recall = right / labelled.
Targets (the real-invoices issue): precision ≥ 0.95 and recall ≥ 0.80; document type ≥ 0.95.
Held out, never used here: invoice-x/invoice2data, the ICDAR-2019 SROIE receipts, ZUGFeRD/corpus.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import statistics
import time
import unicodedata
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from docflow_worker import e_invoice
from docflow_worker.analyzer import Analyzer, HeuristicAnalyzer
from docflow_worker.documents import PDF, page_count, sniff_type
from docflow_worker.domain import PageText
from docflow_worker.steps.analyze import analysis_of, read_again
from docflow_worker.steps.extract import jpeg, read_pages
from PIL import Image

from benchmarks.common import ROOT, command_line, precision_recall, publish, score_cells, table

CORPUS = ROOT / "benchmarks" / "real"
FIELDS = ["vendor", "number", "date", "total", "currency"]
TESSERACT_ALONE = "heuristic, without the second OCR engine"
RAPIDOCR_ALONE = "heuristic, every scanned page read by RapidOCR instead of Tesseract"
TARGET_PRECISION, TARGET_RECALL, TARGET_TYPE = 0.95, 0.80, 0.95
# Words a vendor's name may carry or not ("Ltd" on the page, "Limited" in the label).
LEGAL_WORDS = {"gmbh", "co", "kg", "ag", "ohg", "ltd", "limited", "inc", "llc", "pty", "bv",
               "nv", "sa", "sau", "sas", "sarl", "plc", "corp", "the"}  # fmt: skip


@dataclass(frozen=True)
class Labelled:
    file: str
    source: str
    language: str
    kind: str  # "text" (a PDF's text layer) or "scan"
    type: str  # invoice | receipt
    expected: dict[str, str]  # the labelled fields only
    labelled_by: str

    @property
    def origin(self) -> str:
        """A document a real business issued, or a vendor's sample (a fictitious issuer)."""
        return "sample" if "sample" in self.labelled_by else "real"


def corpus() -> list[Labelled]:
    with (CORPUS / "labels.tsv").open(newline="") as labels:
        rows = list(csv.DictReader(labels, delimiter="\t"))
    return [
        Labelled(row["file"], row["source"], row["language"], row["kind"], row["type"],
                 {name: row[name] for name in FIELDS if row[name]}, row["labels"])
        for row in rows
    ]  # fmt: skip


def llm() -> Analyzer | None:
    base_url, model = os.environ.get("DOCFLOW_LLM_BASE_URL"), os.environ.get("DOCFLOW_LLM_MODEL")
    if not (base_url and model):
        return None
    from docflow_worker.llm_analyzer import LLMAnalyzer

    return LLMAnalyzer(base_url, model, os.environ.get("DOCFLOW_LLM_API_KEY"), 120.0)


def analyse(doc: Labelled) -> dict[str, Any]:
    data = (CORPUS / "documents" / doc.file).read_bytes()
    content_type = sniff_type(data)
    began = time.perf_counter()
    read = read_pages(data, content_type, 1, page_count(data, content_type))
    read_seconds = time.perf_counter() - began
    pages = [page.text for page in read]
    # Each page's picture as the worker stores it (a JPEG), for the second OCR engine; each
    # page read by it once, timed, whichever run asks first.
    pictures = {page.text.page: page.picture for page in read if page.picture is not None}
    readings: dict[int, tuple[PageText, float]] = {}
    asked: set[int] = set()  # the pages the worker's own way reads again

    def reading(page: PageText) -> PageText | None:
        if page.page not in pictures:
            return None
        if page.page not in readings:
            began = time.perf_counter()
            again = read_again(page, Image.open(io.BytesIO(jpeg(pictures[page.page]))))
            readings[page.page] = (again, time.perf_counter() - began)
        return readings[page.page][0]

    def second_reading(page: PageText) -> PageText | None:
        asked.add(page.page)
        return reading(page)

    # RapidOCR in Tesseract's place: every scanned page as the second engine reads it.
    by_rapidocr = [(reading(page) or page) if page.method == "ocr" else page for page in pages]
    found_xml = e_invoice.in_document(data, content_type == PDF)
    results = {}
    # The heuristics as the worker runs them; the same without the second OCR engine and with
    # the second engine alone (what it adds, and whether it beats Tesseract, in the same run);
    # an LLM when one is configured.
    runs = (("heuristic", pages, HeuristicAnalyzer(), second_reading),
            (TESSERACT_ALONE, pages, HeuristicAnalyzer(), lambda _page: None),
            (RAPIDOCR_ALONE, by_rapidocr, HeuristicAnalyzer(), lambda _page: None),
            ("llm", pages, llm(), second_reading))  # fmt: skip
    for name, read_pages_as, analyzer, read_again_if_needed in runs:
        if analyzer is None:
            continue
        analysis = analysis_of(read_pages_as, found_xml, "auto", analyzer, read_again_if_needed)
        fields = {"vendor" if n == "merchant" else n: f.value for n, f in analysis.fields.items()}
        results[name] = {"type": analysis.document_type, "fields": fields,
                         "analyzer": analysis.analyzer}  # fmt: skip
    second_seconds = sum(readings[n][1] for n in asked if n in readings)
    all_seconds = sum(seconds for _, seconds in readings.values())
    ocr = any(page.method == "ocr" for page in pages)
    return {"results": results, "seconds": read_seconds, "second_seconds": second_seconds,
            "rapidocr_seconds": all_seconds, "ocr": ocr}  # fmt: skip


def _compact(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name.casefold().replace("ß", "ss"))
    words = re.findall(r"[a-z0-9]+", "".join(ch for ch in folded if not unicodedata.combining(ch)))
    return "".join(word for word in words if word not in LEGAL_WORDS)


def right(field: str, expected: str, found: Any) -> bool:
    """Whether ``found`` is the labelled value: amounts as numbers, names without their legal
    form, case or accents (a label "aldi" is right for "ALDI SÜD GmbH & Co. oHG")."""
    if not isinstance(found, str):
        return False
    if field == "total":
        try:
            return Decimal(found) == Decimal(expected)
        except InvalidOperation:
            return False
    if field == "vendor":
        want, got = _compact(expected), _compact(found)
        return bool(want and got) and (want in got or got in want)
    if field == "number":
        return re.sub(r"\s", "", found).casefold() == re.sub(r"\s", "", expected).casefold()
    return found == expected


def run(workers: int) -> None:
    documents = corpus()
    with ProcessPoolExecutor(workers) as pool:
        outcomes = list(pool.map(analyse, documents))
    analyzers = sorted({name for o in outcomes for name in o["results"]})
    sections = [
        f"### Real documents ({len(documents)}: "
        + ", ".join(f"{n} {k}" for k, n in Counter(d.kind for d in documents).items())
        + "; languages "
        + ", ".join(f"{lang} {n}" for lang, n in Counter(d.language for d in documents).items())
        + "; "
        + ", ".join(f"{n} {o}" for o, n in Counter(d.origin for d in documents).items())
        + ")"
    ]
    for analyzer in analyzers:
        sections += _scored(analyzer, documents, outcomes)
    times = defaultdict(list)
    for outcome in outcomes:
        times["OCR" if outcome["ocr"] else "text layer"].append(outcome["seconds"])
        if outcome["second_seconds"]:
            times["second OCR engine (where a field was missing)"].append(outcome["second_seconds"])
        if outcome["rapidocr_seconds"]:
            times["RapidOCR, every scanned page"].append(outcome["rapidocr_seconds"])
    time_rows = [[kind, str(len(s)), f"{statistics.median(s):.2f}", f"{max(s):.2f}"]
                 for kind, s in sorted(times.items())]  # fmt: skip
    sections.append(
        "Time to read a document's pages (one worker process each, 2 in parallel; the second "
        "engine reads the stored pictures of the scanned pages again, only for documents whose "
        "first reading left a required field empty):\n\n"
        + table(["pages read by", "documents", "median s", "max s"], time_rows)
    )
    publish("Field accuracy on real documents", command_line("benchmarks.real_accuracy"),
            sections)  # fmt: skip


def _scored(analyzer: str, documents: list[Labelled], outcomes: list[dict[str, Any]]) -> list[str]:
    by: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    types: dict[str, Counter[str]] = defaultdict(Counter)  # by origin
    misses: list[str] = []
    for doc, outcome in zip(documents, outcomes, strict=True):
        result = outcome["results"][analyzer]
        types[doc.origin]["right" if result["type"] == doc.type else "wrong"] += 1
        if result["type"] != doc.type:
            misses.append(f"{doc.file}: type {doc.type}, got {result['type']}")
        for field, expected in doc.expected.items():
            found = result["fields"].get(field)
            if right(field, expected, found):
                outcome_kind = ["tp"]
            else:
                outcome_kind = ["fp", "miss"] if found is not None else ["miss"]
                misses.append(f"{doc.file}: {field} {expected!r}, got {found!r}")
            for key in (("field", field), ("source", doc.source), ("language", doc.language),
                        ("kind", doc.kind), ("origin", doc.origin), ("all", "all")):  # fmt: skip
                by[key].update(outcome_kind)
    rows = [[group, name, *score_cells(tally)] for (group, name), tally in sorted(by.items())
            if group != "all"]  # fmt: skip
    rows.append(["**all**", "**all fields**", *score_cells(by["all", "all"])])
    verdicts = [_verdict("all documents", by["all", "all"], sum(types.values(), Counter()))]
    if "sample" in types:
        verdicts.append(_verdict("real ones only", by["origin", "real"], types["real"]))
    return [
        f"#### Analyzer: {analyzer}",
        table(["by", "which", "precision", "recall", "right / labelled"], rows),
        *verdicts,
        "Misses (first 30):\n\n" + "\n".join(f"- {m}" for m in misses[:30]) if misses else "",
    ]


def _verdict(which: str, tally: Counter[str], types: Counter[str]) -> str:
    precision, recall, _ = precision_recall(tally)
    type_right = types["right"] / sum(types.values())
    met = (precision >= TARGET_PRECISION and recall >= TARGET_RECALL
           and type_right >= TARGET_TYPE)  # fmt: skip
    return (f"- {which}: precision {precision:.3f}, recall {recall:.3f}, document type right "
            f"for {type_right:.1%} (targets ≥ {TARGET_PRECISION}, ≥ {TARGET_RECALL}, ≥ "
            f"{TARGET_TYPE:.0%}): {'met' if met else 'NOT met'}.")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    run(parser.parse_args().workers)


if __name__ == "__main__":
    main()
