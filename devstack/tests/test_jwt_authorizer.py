"""The local gateway plays API Gateway's JWT authorizer (``DOCFLOW_AUTH=jwt``): a valid token of
the dev issuer reaches the function with its claims where API Gateway puts them; a forged,
expired or misdirected one gets API Gateway's 401 and reaches no function (invocations counted)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from docflow_devstack.dev_issuer import AUDIENCE, sign, signing_key
from docflow_testing.jwt_parts import segment
from docflow_testing.processes import jwt_gateway
from joserfc import jwt
from joserfc.jwk import RSAKey

pytestmark = pytest.mark.integration


@dataclass
class Gateway:
    url: str
    key: RSAKey  # the dev issuer's, read from the state directory as the gateway made it
    invocations: Path

    @property
    def issuer(self) -> str:
        return f"{self.url}/dev-issuer"

    def call(self, authorization: str | None) -> httpx.Response:
        headers = {"Authorization": authorization} if authorization is not None else {}
        return httpx.get(f"{self.url}/whoami", headers=headers, timeout=30)

    def invoked(self) -> int:
        return len(self.invocations.read_text().splitlines()) if self.invocations.exists() else 0

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.issuer, "aud": AUDIENCE, "sub": "alice", "iat": now, "nbf": now,
                "exp": now + 600, "cognito:groups": ["reviewer"], **changes}  # fmt: skip


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    state = tmp_path_factory.mktemp("jwt-gateway")
    with jwt_gateway(state) as url:
        yield Gateway(url, signing_key(state), state / "invocations")


def test_a_token_of_the_issuer_reaches_the_function_with_its_claims(gateway: Gateway) -> None:
    minted = httpx.post(f"{gateway.issuer}/token", json={"sub": "alice", "groups": ["reviewer"]})
    before = gateway.invoked()

    answer = gateway.call(f"Bearer {minted.json()['token']}")

    assert answer.status_code == 200, answer.text
    identity = answer.json()["authorizer"]["jwt"]
    assert identity["claims"]["sub"] == "alice"
    assert identity["claims"]["cognito:groups"] == "[reviewer]", "as API Gateway: strings"
    assert identity["claims"]["exp"] == str(minted.json()["expiresAt"])
    assert gateway.invoked() == before + 1
    discovery = httpx.get(f"{gateway.issuer}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == gateway.issuer


def forgeries(gateway: Gateway) -> dict[str, str | None]:
    """Every way a token must fail, each made for the purpose."""
    good = sign(gateway.key, gateway.claims())
    head, payload, signature = good.split(".")
    # The classic confusion: HMAC-signed with the issuer's public key (PEM) as the secret.
    public_pem = RSAKey.import_key(gateway.key.as_dict(private=False)).as_pem(private=False)
    signed = f"{segment({'alg': 'HS256', 'kid': gateway.key.kid})}.{payload}"
    mac = hmac.new(public_pem, signed.encode(), hashlib.sha256).digest()
    hs256 = f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    stranger = RSAKey.generate_key(2048, parameters={"alg": "RS256"})
    stranger.ensure_kid()
    unknown_kid = jwt.encode({"alg": "RS256", "kid": stranger.kid}, gateway.claims(), stranger)
    other_key = jwt.encode({"alg": "RS256", "kid": gateway.key.kid}, gateway.claims(), stranger)
    without_exp = {name: value for name, value in gateway.claims().items() if name != "exp"}
    return {
        "no header": None,
        "empty": "Bearer",
        "not a jwt": "Bearer not.a.jwt",
        "alg none": f"Bearer {segment({'alg': 'none', 'kid': gateway.key.kid})}.{payload}.",
        "HS256 with the public key": f"Bearer {hs256}",
        "expired": f"Bearer {sign(gateway.key, gateway.claims(exp=int(time.time()) - 3600))}",
        "not yet valid": f"Bearer {sign(gateway.key, gateway.claims(nbf=int(time.time()) + 3600))}",
        "no exp": f"Bearer {sign(gateway.key, without_exp)}",
        "wrong issuer": f"Bearer {sign(gateway.key, gateway.claims(iss='https://evil.example'))}",
        "wrong audience": f"Bearer {sign(gateway.key, gateway.claims(aud='someone-else'))}",
        "unknown kid": f"Bearer {unknown_kid}",
        "signed by another key under the issuer's kid": f"Bearer {other_key}",
        "tampered payload": f"Bearer {head}.{segment(gateway.claims(sub='mallory'))}.{signature}",
    }


def test_every_forged_or_misdirected_token_is_401_and_reaches_no_function(
    gateway: Gateway,
) -> None:
    before = gateway.invoked()

    answers = {name: gateway.call(header) for name, header in forgeries(gateway).items()}

    refused = {name: answer.status_code for name, answer in answers.items()}
    assert refused == dict.fromkeys(answers, 401)
    for name, answer in answers.items():
        assert answer.json() == {"message": "Unauthorized"}, name
        assert answer.headers["www-authenticate"].startswith('Bearer scope=""'), name
    assert "valid audience" in answers["wrong audience"].headers["www-authenticate"]
    assert gateway.invoked() == before, "no refused request reached the function"
