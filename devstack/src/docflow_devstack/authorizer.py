"""API Gateway's JWT authorizer, locally: the gateway decides who calls, before any function.

As an HTTP API with a JWT authorizer does it (AWS: "Control access to HTTP APIs with JWT
authorizers"; "Troubleshooting issues with HTTP API JWT authorizers"): the token comes from the
``Authorization`` header, with or without ``Bearer``; its header must name a ``kid`` of the
issuer's JWKS and an allowed algorithm; its signature must verify; ``iss`` must be the issuer,
``aud`` (or ``client_id`` when there is no ``aud``) the audience; ``exp`` must be to come and
``nbf``/``iat`` past, within a small leeway. Anything else is ``401 {"message":"Unauthorized"}``
with a ``www-authenticate`` header saying why, and reaches no function. A token that passes
is handed to the function as API Gateway hands it: its claims, each as a string, under
``requestContext.authorizer.jwt.claims``, and its scopes under ``...jwt.scopes``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

ALGORITHMS = ["RS256", "RS384", "RS512"]  # what API Gateway's JWT authorizer accepts
LEEWAY_SECONDS = 60


class Unauthorized(Exception):
    """Why a token was refused: the ``error_description`` of the ``www-authenticate`` header."""


@dataclass(frozen=True)
class Authorizer:
    issuer: str
    audience: str
    keys: KeySet

    def authorize(self, authorization: str | None) -> dict[str, Any]:
        """The ``jwt`` part of the event's ``requestContext.authorizer``; ``Unauthorized`` for a
        missing or invalid token."""
        token = (authorization or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise Unauthorized("the token is missing")
        try:
            decoded = jwt.decode(token, self.keys, algorithms=ALGORITHMS)
        except JoseError as err:
            raise Unauthorized(f"the token is not valid: {err.description or err.error}") from err
        claims = decoded.claims
        if "kid" not in decoded.header:
            raise Unauthorized("the token has no kid")
        audience = "aud" if "aud" in claims else "client_id"
        registry = JWTClaimsRegistry(
            now=lambda: int(time.time()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer},
            exp={"essential": True},
            **{audience: {"essential": True, "value": self.audience}},  # type: ignore[arg-type]
        )
        try:
            registry.validate(claims)
        except JoseError as err:
            raise Unauthorized(_said(err)) from err
        return {"claims": {name: _as_string(value) for name, value in claims.items()},
                "scopes": _scopes(claims)}  # fmt: skip


def _said(error: JoseError) -> str:
    """Why, as API Gateway words it where it says (``the token does not have a valid audience``)."""
    text = str(error.description or error.error)
    if "aud" in text or "client_id" in text:
        return "the token does not have a valid audience"
    if "iss" in text:
        return "the token does not have a valid issuer"
    if "expired" in text or "exp" in text:
        return "the token has expired"
    return f"the token is not valid: {text}"


def _as_string(value: Any) -> str:
    """A claim as API Gateway passes it: a string; a list as ``[a b]``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    return json.dumps(value) if isinstance(value, dict) else str(value)


def _scopes(claims: dict[str, Any]) -> list[str] | None:
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, list):
        return [str(scope) for scope in raw]
    return raw.split() if isinstance(raw, str) and raw else None


def unauthorized_headers(reason: str) -> dict[str, str]:
    challenge = f'Bearer scope="" error="invalid_token" error_description="{reason}"'
    return {"www-authenticate": challenge}
