"""Step 3: classification, fields and summary from the extracted text."""

from __future__ import annotations

from docflow_shared.models import Analysis
from docflow_shared.settings import WorkerSettings

from ..analyzer import Analyzer, HeuristicAnalyzer
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
    return HeuristicAnalyzer()


def analyze(job: Job, text: Text) -> Analysis:
    pages = [PageText.model_validate(page).text for page in blobs.get_json(text.key)["pages"]]
    return analyzer().analyze(pages, job.type)
