"""Step 3: classification, fields and summary from the extracted text."""

from __future__ import annotations

from typing import Any

from ..analyzer import Analyzer, HeuristicAnalyzer
from ..dal import blobs


def analyzer() -> Analyzer:
    return HeuristicAnalyzer()


def analyze(job: dict[str, Any], text: dict[str, Any]) -> dict[str, Any]:
    pages = [page["text"] for page in blobs.get_json(text["key"])["pages"]]
    return analyzer().analyze(pages, job.get("type", "auto"))
