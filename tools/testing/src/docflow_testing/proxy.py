"""A TCP relay for tests of connection reuse: it counts the connections opened through it."""

from __future__ import annotations

import socket
import threading


class CountingProxy:
    """A TCP relay in front of a server: counts the connections clients open through it, and
    can drop them all (as a server or load balancer closes idle ones)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.accepted = 0
        self.open: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def drop_all(self) -> None:
        for sock in self.open:
            sock.close()
        self.open.clear()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            self.accepted += 1
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                sock.close()
