"""Which URLs docflow may call (documents, webhooks): never its own network, unless allow-listed.

Resolves the host once and refuses loopback, private, link-local (the cloud metadata addresses
included), CGNAT, multicast and reserved addresses, in any spelling (decimal, octal or hex IPv4,
IPv4-mapped IPv6), unless the host or the address is in ``DOCFLOW_URL_ALLOWLIST`` (hosts or
CIDRs). The caller then connects to the address that was checked, not to the name: a second DNS
answer (rebinding) cannot send the request elsewhere. Every redirect hop is checked again.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

from .errors import InvalidDocument

_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def shown_url(url: str) -> str:
    """``url`` as logs and error messages may show it: no credentials, no query (a presigned
    URL's query is its signature), no fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unreadable URL>"
    if ":" in host:
        host = f"[{host}]"
    return urlunsplit((parts.scheme, host + port, parts.path, "…" if parts.query else "", ""))


def refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
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


@dataclass(frozen=True)
class PinnedUrl:
    """Where to send a checked request: ``url`` has the checked address in place of the host;
    ``headers`` carry the original ``Host``, and ``extensions`` make TLS (SNI and the certificate
    check) use the original name (httpx request arguments)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


def check_url(url: str, allowlist: list[str]) -> PinnedUrl:
    """``url`` pinned to its checked address; ``InvalidDocument("url_refused", …)`` if refused."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidDocument("url_refused", f"only http(s) URLs with a host can be fetched: {url}")
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise InvalidDocument("not_found", f"the host {host} does not resolve") from err
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if refused(address) and not _allowed(host, address, allowlist):
            raise InvalidDocument(
                "url_refused",
                f"{host} resolves to {address}, a non-public address; "
                "add it to DOCFLOW_URL_ALLOWLIST to allow it",
            )
    return _pinned(parts, host, addresses[0])


def _pinned(
    parts: SplitResult, host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> PinnedUrl:
    literal = f"[{address}]" if address.version == 6 else str(address)
    port = f":{parts.port}" if parts.port else ""
    url = urlunsplit((parts.scheme, literal + port, parts.path, parts.query, ""))
    host_header = (f"[{host}]" if ":" in host else host) + port
    tls = {"sni_hostname": host} if parts.scheme == "https" else {}
    return PinnedUrl(url, {"Host": host_header}, tls)
