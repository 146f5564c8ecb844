"""One local stack per e2e module group, started once, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import FileServer, LocalStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack.up(tmp_path_factory.mktemp("stack"))
    yield local
    local.down()


@pytest.fixture(scope="session")
def files() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()
