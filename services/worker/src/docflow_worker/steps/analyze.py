"""Step 3: classification, fields and summary from the extracted text."""

from __future__ import annotations

from docflow_shared.models import Analysis
from docflow_shared.settings import WorkerSettings

from .. import e_invoice
from ..analyzer import Analyzer, HeuristicAnalyzer, summarize
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
    pages = [PageText.model_validate(page).text for page in blobs.get_json(text.key)["pages"]]
    found = None
    if text.e_invoice_key:
        found = (text.e_invoice_key.rsplit("/", 1)[-1], blobs.get_bytes(text.e_invoice_key))
    return analysis_of(pages, found, job.type, analyzer())


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
