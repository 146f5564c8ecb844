"""A TCP connection (TLS when asked) read through a buffer: what the front doors' two small
clients, ``http1`` (Resonate) and ``resp`` (Redis), are each built on."""

from __future__ import annotations

import socket
from typing import BinaryIO


class SocketStream:
    """One connection to ``host:port``, opened by :meth:`open` and dropped by :meth:`close` (a
    client closes it on any failure: nothing half-read is reused)."""

    def __init__(self, host: str, port: int, tls: bool, timeout: float) -> None:
        self.host, self.port, self.tls, self.timeout = host, port, tls, timeout
        self._socket: socket.socket | None = None
        self._reader: BinaryIO | None = None

    @property
    def is_open(self) -> bool:
        return self._socket is not None

    def open(self) -> None:
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each request is one write
        if self.tls:
            import ssl  # here: most of these connections are plain ones, inside a VPC

            raw = ssl.create_default_context().wrap_socket(raw, server_hostname=self.host)
        self._socket, self._reader = raw, raw.makefile("rb")  # buffered: few reads per answer

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = self._reader = None
