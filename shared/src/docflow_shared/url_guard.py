"""Which URLs docflow may call (documents, webhooks): never its own network, unless allow-listed.

Resolves the host and refuses loopback, private, link-local (the cloud metadata address
included), CGNAT, multicast and reserved addresses, unless the host or one of its addresses is
in ``DOCFLOW_URL_ALLOWLIST`` (hosts or CIDRs). Every redirect hop is checked again.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from .errors import InvalidDocument

_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT)
    )


def _allowed(
    host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow: list[str]
) -> bool:
    for entry in allow:
        if entry.lower() == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_url(url: str, allowlist: list[str]) -> None:
    """Raise ``InvalidDocument("url_refused", …)`` unless ``url`` may be fetched."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidDocument("url_refused", f"only http(s) URLs with a host can be fetched: {url}")
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise InvalidDocument("not_found", f"the host {host} does not resolve") from err
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if _refused(address) and not _allowed(host, address, allowlist):
            raise InvalidDocument(
                "url_refused",
                f"{host} resolves to {address}, a non-public address; "
                "add it to DOCFLOW_URL_ALLOWLIST to allow it",
            )
