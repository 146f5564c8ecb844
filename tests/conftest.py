"""Session-wide fixtures: real services on free loopback ports, started once per test worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import resonate_server


@pytest.fixture(scope="session")
def resonate_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dev server on a fresh SQLite store, shared by the tests of one xdist worker."""
    base: Path = tmp_path_factory.mktemp("resonate")
    server, url = resonate_server(str(base / "resonate.db"), base / "server.log")
    yield url
    server.kill9()
