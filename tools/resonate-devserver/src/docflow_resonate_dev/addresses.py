"""Which addresses the server sends messages to, as the real server decides it
(resonatehq/resonate v0.9.8, ``src/transport/mod.rs:191-239``, ``is_valid_address``).

- ``poll://any@GROUP`` or ``poll://uni@GROUP/ID``: a poller of the group (``any``: whichever
  one; ``uni``: that one). Any other user part, or none, is refused.
- ``http://`` and ``https://`` URLs with a host: HTTP push (serverless functions).
- ``gcps://PROJECT/TOPIC`` (Google Cloud Pub/Sub) and ``bash://…``: accepted as addresses,
  though this server delivers to neither (nor does the real one without their transports).

A ``resonate:target`` tag or a listener address that is none of these is refused with a 400.
"""

from __future__ import annotations

from urllib.parse import urlsplit

INVALID_TARGET = "Invalid resonate:target address"
INVALID_LISTENER = "Invalid listener address"


def is_valid_address(address: str) -> bool:
    try:
        parts = urlsplit(address)
        host, _port = parts.hostname, parts.port
    except ValueError:  # an unbalanced bracket, a port that is not a number
        return False
    if parts.scheme in ("http", "https"):
        return bool(host)
    if parts.scheme == "poll":
        return parts.username in ("any", "uni") and bool(host)
    if parts.scheme == "gcps":
        return bool(host) and bool(parts.path.strip("/"))
    return parts.scheme == "bash"
