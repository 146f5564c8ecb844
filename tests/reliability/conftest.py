"""The fixtures the fuzzing tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from docflow_testing.stack import FileServer


@pytest.fixture(scope="module")
def files() -> Iterator[FileServer]:
    """Where the generated jobs' documents are fetched from: one tiny text invoice."""
    server = FileServer()
    server.serve("/tiny.txt", b"Invoice 7\nTotal: 12.00 EUR\n", "text/plain")
    yield server
    server.close()
