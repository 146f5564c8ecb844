"""The download connects to the address the guard checked, never to a second DNS answer.

A resolver that answers differently on each lookup (DNS rebinding) is simulated by patching
``getaddrinfo`` for one made-up name: the first answer is the allow-listed loopback file server,
every later one an address outside the allowlist. Only loopback addresses are involved.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from docflow_samples import invoice_pdf
from docflow_shared.errors import InvalidDocument
from docflow_shared.settings import forget_settings
from docflow_testing.stack import FileServer
from docflow_worker.steps.download import fetch_http

pytestmark = pytest.mark.integration

NAME = "docs.rebinding.test"


@pytest.fixture
def files() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DOCFLOW_URL_ALLOWLIST", "127.0.0.1")
    forget_settings()
    yield
    forget_settings()


def test_a_second_dns_answer_cannot_redirect_the_download(
    files: FileServer, allow_loopback: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != NAME:
            return real(host, *args, **kwargs)
        lookups.append(host)
        return real("127.0.0.1" if len(lookups) == 1 else "127.0.0.2", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    document = invoice_pdf()  # once: a PDF made a second later has another creation date
    url = files.serve("/invoice.pdf", document, "application/pdf")
    port = url.split(":")[2].split("/")[0]

    data = fetch_http(f"http://{NAME}:{port}/invoice.pdf")

    assert data == document
    assert lookups == [NAME], "resolved once, by the guard"
    assert files.hosts[-1] == f"{NAME}:{port}", "the server saw the original Host"


def test_a_redirect_to_a_refused_loopback_address_fails_the_job(
    files: FileServer, allow_loopback: None
) -> None:
    files.redirect("/hop", "http://127.0.0.2:9/secret")

    with pytest.raises(InvalidDocument) as info:
        fetch_http(files.url("/hop"))

    assert info.value.reason == "url_refused"
    assert "127.0.0.2" in info.value.message
