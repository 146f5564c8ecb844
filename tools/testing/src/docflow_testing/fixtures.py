"""The fixtures every suite may use (a pytest plugin, loaded wherever docflow-testing is
installed): real services on free loopback ports, started once per test worker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .processes import resonate_server

# The settings deployed code requires, as `make up` gives its processes: the Lambda handlers
# read theirs when imported. Nothing listens at these addresses; a test that talks to a
# service sets the variable to that service's address (and calls forget_settings()).
for name, value in {"RESONATE_URL": "http://127.0.0.1:9", "REDIS_URL": "redis://127.0.0.1:9/0",
                    "DOCFLOW_BUCKET": "docflow-artifacts"}.items():  # fmt: skip
    os.environ.setdefault(name, value)


@pytest.fixture(scope="session")
def resonate_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dev server on a fresh SQLite store, shared by the tests of one xdist worker."""
    base: Path = tmp_path_factory.mktemp("resonate")
    server, url = resonate_server(str(base / "resonate.db"), base / "server.log")
    yield url
    server.kill9()
