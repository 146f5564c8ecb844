"""A development token issuer, the local stand-in for Cognito or any OIDC provider.

With ``DOCFLOW_AUTH=jwt`` the local gateway serves it under ``/dev-issuer``: OIDC discovery
(``/.well-known/openid-configuration``), its public keys (``/.well-known/jwks.json``) and
``POST /dev-issuer/token`` ``{"sub": "alice", "groups": ["reviewer"]}``, which signs a token for
anyone who asks: ``docflow login --as alice`` uses it. Its RS256 key is made once and kept in
the stack's state directory, so tokens outlive a restart of the stack. Never deploy it: a
deployment's gateway trusts the issuer set in template.yaml.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

PATH = "/dev-issuer"
AUDIENCE = "docflow"
TOKEN_SECONDS = 12 * 3600


def issuer_url(gateway_url: str) -> str:
    return gateway_url.rstrip("/") + PATH


def signing_key(state_dir: Path) -> RSAKey:
    """The issuer's key, made on first use and kept (private: only this user may read it)."""
    path = state_dir / "dev-issuer-key.json"
    if path.exists():
        return RSAKey.import_key(json.loads(path.read_text()))
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
    key.ensure_kid()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(key.as_dict(private=True)))
    return key


def sign(key: RSAKey, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    return jwt.encode({"alg": "RS256", "kid": key.kid, **(header or {})}, claims, key)


def routes(app: web.Application, key: RSAKey, issuer: str) -> None:
    """Add the issuer's routes to ``app`` (the local gateway)."""

    async def discovery(_request: web.Request) -> web.Response:
        return web.json_response({"issuer": issuer, "jwks_uri": f"{issuer}/.well-known/jwks.json",
                                  "id_token_signing_alg_values_supported": ["RS256"]})  # fmt: skip

    async def keys(_request: web.Request) -> web.Response:
        return web.json_response(KeySet([key]).as_dict(private=False))

    async def token(request: web.Request) -> web.Response:
        try:
            asked = await request.json()
        except ValueError:
            asked = None
        subject = asked.get("sub") if isinstance(asked, dict) else None
        groups = (asked.get("groups") or []) if isinstance(asked, dict) else None
        if not (isinstance(subject, str) and subject and isinstance(groups, list)
                and all(isinstance(g, str) for g in groups)):  # fmt: skip
            message = 'send {"sub": "<user>", "groups": ["<group>", ...]}'
            return web.json_response({"error": "bad_request", "message": message}, status=400)
        now = int(time.time())
        claims = {"iss": issuer, "aud": AUDIENCE, "sub": subject, "iat": now, "nbf": now,
                  "exp": now + TOKEN_SECONDS, "cognito:groups": groups}  # fmt: skip
        return web.json_response({"token": sign(key, claims), "expiresAt": claims["exp"]})

    app.router.add_get(f"{PATH}/.well-known/openid-configuration", discovery)
    app.router.add_get(f"{PATH}/.well-known/jwks.json", keys)
    app.router.add_post(f"{PATH}/token", token)
