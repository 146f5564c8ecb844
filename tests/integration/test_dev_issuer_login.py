"""``docflow login`` gets a token from the local stack's dev issuer and every later command sends
it: the gateway's JWT authorizer (``DOCFLOW_AUTH=jwt``) lets it through with the user's claims,
and nothing through without it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docflow_cli.cli import Api, app
from docflow_testing.processes import jwt_gateway
from typer.testing import CliRunner

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with jwt_gateway(tmp_path_factory.mktemp("login-gateway")) as url:
        yield url


def test_login_keeps_a_token_the_authorizer_accepts_for_that_user(
    gateway: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCFLOW_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("DOCFLOW_API_TOKEN", raising=False)
    with pytest.raises(Exception, match="Unauthorized"):
        Api.at(gateway).call("GET", "/whoami")

    said = CliRunner().invoke(app, ["login", "--as", "rita", "--role", "reviewer",
                                    "--gateway", gateway])  # fmt: skip
    identity = Api.at(gateway).call("GET", "/whoami")["authorizer"]["jwt"]

    assert said.exit_code == 0, said.output
    assert said.stdout.startswith("logged in as rita (reviewer) until ")
    assert (tmp_path / "token").stat().st_mode & 0o077 == 0, "only its owner may read it"
    assert identity["claims"]["sub"] == "rita"
    assert identity["claims"]["cognito:groups"] == "[reviewer]"
    unsigned = httpx.get(f"{gateway}/whoami", timeout=30)
    assert (unsigned.status_code, unsigned.json()) == (401, {"message": "Unauthorized"})
