"""Step 3: classification, fields and summary from the extracted text."""

from __future__ import annotations

from typing import Any

from docflow_shared.models import Analysis, Box, Candidate, ExtractedField
from docflow_shared.settings import WorkerSettings

from .. import e_invoice
from ..analyzer import EVIDENCE_CHARS, Analyzer, HeuristicAnalyzer, summarize
from ..dal import blobs
from ..domain import Job, PageText, Text
from ..llm_analyzer import LLMAnalyzer


def analyzer() -> Analyzer:
    """The LLM analyzer when ``DOCFLOW_LLM_BASE_URL`` and ``DOCFLOW_LLM_MODEL`` are set."""
    settings = WorkerSettings.current()
    if settings.llm_base_url and settings.llm_model:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return LLMAnalyzer(
            settings.llm_base_url, settings.llm_model, key, settings.llm_timeout_seconds
        )
    return HeuristicAnalyzer(settings.field_min_confidence)


def analyze(job: Job, text: Text) -> Analysis:
    """From the e-invoice XML when the document is or carries one (exact), else from the text
    by the configured analyzer."""
    pages = [PageText.model_validate(page) for page in blobs.get_json(text.key)["pages"]]
    found = None
    if text.e_invoice_key:
        found = (text.e_invoice_key.rsplit("/", 1)[-1], blobs.get_bytes(text.e_invoice_key))
    analysis = analysis_of([page.text for page in pages], found, job.type, analyzer())
    return boxed(analysis, pages)


def analysis_of(
    pages: list[str], e_invoice_xml: tuple[str, bytes] | None, hint: str, fallback: Analyzer
) -> Analysis:
    """The analysis of a document's pages and the e-invoice XML it is or carries (its source
    name and bytes), if any; without one, ``fallback``'s."""
    if e_invoice_xml is not None:
        source, xml = e_invoice_xml
        invoice = e_invoice.read(xml, source)
        if invoice is not None:
            # An XML document has no printed pages: its text is the XML itself.
            printed = [] if source == e_invoice.XML_DOCUMENT else pages
            return e_invoice.analysis(invoice, printed, summarize("\n".join(printed)))
    return fallback.analyze(pages, hint)


def boxed(analysis: Analysis, pages: list[PageText]) -> Analysis:
    """Each field and candidate with the box of its evidence line on its page's picture, where
    the line is found there: the line itself, else the first that holds it (an LLM may quote
    part of a line)."""
    lines = {
        page.page: list(zip(page.text.split("\n"), page.boxes, strict=False)) for page in pages
    }

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
