"""Step 3: classification, fields and summary from the extracted text."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from docflow_shared.errors import InvalidDocument
from docflow_shared.models import Analysis, Box, Candidate, ExtractedField
from docflow_shared.settings import WorkerSettings
from docflow_shared.workflow import page_picture_key
from PIL import Image

from .. import e_invoice, second_ocr
from ..analyzer import EVIDENCE_CHARS, Analyzer, HeuristicAnalyzer, incomplete, summarize
from ..dal import blobs
from ..domain import Job, PageText, Text
from ..llm_analyzer import LLMAnalyzer


def analyzer() -> Analyzer:
    """The LLM analyzer when ``DOCFLOW_LLM_BASE_URL`` and ``DOCFLOW_LLM_MODEL`` are set."""
    settings = WorkerSettings.current()
    heuristic = HeuristicAnalyzer(settings.field_min_confidence)
    if settings.llm_base_url and settings.llm_model:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return LLMAnalyzer(settings.llm_base_url, settings.llm_model, key,
                           settings.llm_timeout_seconds, fallback=heuristic)  # fmt: skip
    return heuristic


def analyze(job: Job, text: Text) -> Analysis:
    """From the e-invoice XML when the document is or carries one (exact), else from the text
    by the configured analyzer; a scanned page read again by the second OCR engine where the
    first reading left a required field empty."""
    pages = [PageText.model_validate(page) for page in blobs.get_json(text.key)["pages"]]
    found = None
    if text.e_invoice_key:
        found = (text.e_invoice_key.rsplit("/", 1)[-1], blobs.get_bytes(text.e_invoice_key))

    def second_reading(page: PageText) -> PageText | None:
        try:
            picture = blobs.get_bytes(page_picture_key(job.job_id, page.page))
        except InvalidDocument:
            return None  # a page after the pictured ones
        return read_again(page, Image.open(io.BytesIO(picture)))

    return analysis_of(pages, found, job.type, analyzer(), second_reading)


def read_again(page: PageText, picture: Image.Image) -> PageText:
    """``page`` as the second OCR engine reads its picture."""
    reading = second_ocr.read(picture)
    return PageText(page=page.page, method="ocr", text=reading.text, boxes=list(reading.boxes))


def analysis_of(
    pages: list[PageText],
    e_invoice_xml: tuple[str, bytes] | None,
    hint: str,
    fallback: Analyzer,
    second_reading: Callable[[PageText], PageText | None] = lambda _page: None,
) -> Analysis:
    """The analysis of a document's pages and the e-invoice XML it is or carries (its source
    name and bytes), if any; without one, ``fallback``'s, each field boxed on its page.

    When the heuristics find no kind of document, or leave a field its kind requires without a
    value, the scanned pages are read again (``second_reading``) and analysed again: the second
    analysis fills what the first left empty, or stands in for it when the first found no kind.
    """
    texts = [page.text for page in pages]
    if e_invoice_xml is not None:
        source, xml = e_invoice_xml
        invoice = e_invoice.read(xml, source)
        if invoice is not None:
            # An XML document has no printed pages: its text is the XML itself.
            printed = [] if source == e_invoice.XML_DOCUMENT else texts
            return e_invoice.analysis(invoice, printed, summarize("\n".join(printed)))
    analysis = fallback.analyze(texts, hint)
    if analysis.analyzer == "heuristic" and incomplete(analysis):
        again = {page.page: read for page in pages if page.method == "ocr"
                 and (read := second_reading(page)) is not None}  # fmt: skip
        if again:
            second = fallback.analyze([again.get(p.page, p).text for p in pages], hint)
            analysis = filled(analysis, second)
            pages = [*pages, *again.values()]
    return boxed(analysis, pages)


def filled(first: Analysis, second: Analysis) -> Analysis:
    """``first`` with the fields it has no value for taken from ``second``, a reading of the
    same document; ``second`` itself where only it found what kind of document this is."""
    if first.document_type == "other":
        return second
    if second.document_type != first.document_type:
        return first
    fields = dict(first.fields)
    for name, field in second.fields.items():
        if field.value is not None and (name not in fields or fields[name].value is None):
            fields[name] = field
    return first.model_copy(update={"fields": fields})


def boxed(analysis: Analysis, pages: list[PageText]) -> Analysis:
    """Each field and candidate with the box of its evidence line on its page's picture, where
    the line is found there: the line itself, else the first that holds it (an LLM may quote
    part of a line)."""
    lines: dict[int, list[tuple[str, Box | None]]] = {}
    for page in pages:  # a page read twice: both readings' lines, on the same picture
        lines.setdefault(page.page, []).extend(zip(page.text.split("\n"), page.boxes, strict=False))

    def box(evidence: str, page: int) -> Box | None:
        on_page = lines.get(page, [])
        exact = [b for line, b in on_page if line.strip()[:EVIDENCE_CHARS] == evidence]
        held = [b for line, b in on_page if len(evidence) >= 3 and evidence in line]
        return next((b for b in [*exact, *held] if b is not None), None)

    def with_box(item: ExtractedField | Candidate) -> Any:
        return item.model_copy(update={"box": box(item.evidence, item.page)})

    fields = {
        name: with_box(field).model_copy(
            update={"candidates": [with_box(c) for c in field.candidates]}
        )
        for name, field in analysis.fields.items()
    }
    return analysis.model_copy(update={"fields": fields})
