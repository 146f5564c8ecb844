"""Pieces for forging tokens in tests: what a JWT is made of, without a library's checks."""

from __future__ import annotations

import base64
import json
from typing import Any


def segment(data: dict[str, Any]) -> str:
    """A JWT header or payload: JSON, base64url without padding."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
