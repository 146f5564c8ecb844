"""One local stack per e2e module group, started once, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from docflow_testing.stack import FileServer, LocalStack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # Small limits, so the refusals are quick to provoke: 20 pages, a 2 s read timeout.
    yield from running_stack(
        tmp_path_factory, "stack", DOCFLOW_MAX_PAGES="20", DOCFLOW_DOWNLOAD_TIMEOUT="2"
    )


@pytest.fixture(scope="session")
def files() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()
