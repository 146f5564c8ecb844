"""The few Redis commands the front doors send, over RESP2 with the standard library.

redis-py takes about 0.4 s to import here, paid by the first request of every cold Lambda
environment that touches Redis (a trigger's first start, a status's first read), and adds a
megabyte to each zip. The front doors need a handful of commands (EVAL, HGETALL, SCAN, MGET) on
one connection, so they speak the protocol themselves, as they do Resonate's
(``resonate_http``). The worker and the notifier, long-running, use redis-py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from .socket_stream import SocketStream


class RedisError(Exception):
    """Redis did not answer (refused, timed out, closed), or answered with an error."""


Reply = int | str | list[Any] | None


class Resp(SocketStream):
    """One connection to the Redis at ``url`` (``redis://`` or ``rediss://`` (TLS),
    ``[user:password@]host[:port][/db]``), opened on first use and again after a failure.
    Bulk replies are UTF-8 text, as redis-py's ``decode_responses=True`` gives them."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            msg = f"not a redis:// or rediss:// URL: {parts.scheme}://{parts.hostname or ''}"
            raise ValueError(msg)
        super().__init__(parts.hostname, parts.port or 6379, parts.scheme == "rediss", timeout)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.db = int(parts.path.strip("/") or 0)

    def call(self, *args: str | int) -> Reply:
        """Send one command and read its reply; ``RedisError`` if it cannot be had."""
        try:
            if self._socket is None:
                self._connect()
            return self._send(args)
        except (OSError, EOFError) as err:  # refused, reset, timed out, closed
            self.close()
            raise RedisError(f"redis at {self.host}:{self.port}: {err}") from err

    def eval(self, script: str, numkeys: int, *keys_and_args: str) -> Reply:
        return self.call("EVAL", script, numkeys, *keys_and_args)

    def hgetall(self, key: str) -> dict[str, str]:
        flat = self.call("HGETALL", key)
        items = flat if isinstance(flat, list) else []
        return dict(zip(items[::2], items[1::2], strict=True))

    def scan_keys(self, pattern: str, count: int = 100) -> list[str]:
        """Every key matching ``pattern`` (SCAN to the end)."""
        keys: list[str] = []
        cursor = "0"
        while True:
            reply = self.call("SCAN", cursor, "MATCH", pattern, "COUNT", count)
            assert isinstance(reply, list)
            cursor, found = reply
            keys += found
            if cursor == "0":
                return keys

    def mget(self, keys: list[str]) -> list[str | None]:
        reply = self.call("MGET", *keys)
        return reply if isinstance(reply, list) else []

    def _connect(self) -> None:
        self.open()
        try:
            if self.password is not None:
                auth = (self.user, self.password) if self.user else (self.password,)
                self._send(("AUTH", *auth))
            if self.db:
                self._send(("SELECT", self.db))
        except RedisError:
            self.close()  # not a connection to reuse: the next call tries afresh
            raise

    def _send(self, args: tuple[str | int, ...]) -> Reply:
        assert self._socket is not None
        encoded = [str(arg).encode() for arg in args]
        frame = b"*%d\r\n" % len(encoded) + b"".join(
            b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in encoded
        )
        self._socket.sendall(frame)
        return self._read()

    def _read(self) -> Reply:
        assert self._reader is not None
        line = self._reader.readline()
        if not line.endswith(b"\r\n"):
            raise EOFError("the connection closed mid-reply")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())  # an error reply: the connection stays usable
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self._reader.read(size + 2)
            if len(data) != size + 2:
                raise EOFError("the connection closed mid-reply")
            return str(data[:-2].decode())
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._read() for _ in range(size)]
        raise RedisError(f"not a RESP2 reply: {line[:40]!r}")
