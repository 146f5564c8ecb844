"""The front doors' HTTP/1.1 connection (``docflow_shared.http1``) against a server that answers
with scripted bytes: each way an HTTP/1.x answer may be framed, and each way one may go wrong."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from docflow_shared.http1 import BadResponse, ConnectionClosed, Http1Connection

pytestmark = pytest.mark.integration


class ScriptedServer:
    """Accepts connections on loopback; reads each request (headers and its Content-Length of
    body), keeps what the first read of it held, and answers with the next scripted bytes.
    ``None`` in the script closes the connection there (after an answer, or instead of one)."""

    def __init__(self, answers: list[bytes | None]) -> None:
        self.answers = answers
        self.first_reads: list[bytes] = []
        self.accepted = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.answers:
            conn, _ = self.listener.accept()
            self.accepted += 1
            with conn:
                while self.answers:
                    first = conn.recv(65536)
                    if not first:
                        break
                    self.first_reads.append(first)
                    head, _, body = first.partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    while len(body) < length:
                        body += conn.recv(65536)
                    answer = self.answers.pop(0)
                    if answer is not None:
                        conn.sendall(answer)
                        if self.answers and self.answers[0] is None:
                            answer = self.answers.pop(0)
                    if answer is None:
                        break


@pytest.fixture
def serve() -> Iterator[Callable[[list[bytes | None]], ScriptedServer]]:
    """Start scripted servers; their listeners close at the end of the test."""
    started: list[ScriptedServer] = []

    def start(answers: list[bytes | None]) -> ScriptedServer:
        started.append(ScriptedServer(answers))
        return started[-1]

    yield start
    for server in started:
        server.listener.close()


Serve = Callable[[list[bytes | None]], ScriptedServer]


def connect(server: ScriptedServer) -> Http1Connection:
    return Http1Connection("127.0.0.1", server.port, tls=False, timeout=5)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_a_request_is_one_write_and_the_connection_is_kept(serve: Serve) -> None:
    server = serve([OK, b"HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\nX-A: b\r\n\r\nnone"])
    connection = connect(server)

    first = connection.post("/", b'{"a":1}', {"Content-Type": "application/json"})
    second = connection.post("/", b"{}", {})

    assert (first, second) == ((200, b"ok"), (404, b"none"))
    assert server.accepted == 1, "the second request went on the same connection"
    request = server.first_reads[0]
    assert request.startswith(b"POST / HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in request
    assert request.endswith(b'\r\n\r\n{"a":1}'), "headers and body arrive in one read"


def test_a_chunked_answer_is_read_whole_with_its_trailers(serve: Serve) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;ext=1\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: t\r\n\r\n")  # fmt: skip
    server = serve([chunked, OK])
    connection = connect(server)

    assert connection.post("/", b"", {}) == (200, b"hello, chunked!")
    assert connection.post("/", b"", {}) == (200, b"ok"), "the trailers were read to their end"
    assert server.accepted == 1


def test_an_answer_that_closes_the_connection_opens_a_new_one(
    serve: Serve,
) -> None:
    server = serve([
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na", None,
        b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb", None,  # 1.0: closed unless kept
        b"HTTP/1.1 200 OK\r\n\r\nuntil the close", None,  # no length: it ends at the close
        OK,
    ])  # fmt: skip
    connection = connect(server)

    answers = [connection.post("/", b"", {}) for _ in range(4)]

    assert [body for _, body in answers] == [b"a", b"b", b"until the close", b"ok"]
    assert server.accepted == 4


def test_a_server_that_closes_without_answering_is_a_closed_connection(
    serve: Serve,
) -> None:
    server = serve([None, OK])
    connection = connect(server)

    with pytest.raises(ConnectionClosed, match="without answering"):
        connection.post("/", b"", {})
    assert not connection.is_open
    assert connection.post("/", b"", {}) == (200, b"ok"), "the next request opens a new one"


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x answer"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "not a header line"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "not a chunk size"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "closed the connection mid"),
    ],
)
def test_what_is_not_a_readable_answer_is_an_error_and_closes(
    serve: Serve, answer: bytes, problem: str
) -> None:
    server = serve([answer, None])
    connection = connect(server)

    with pytest.raises(OSError, match=problem) as raised:
        connection.post("/", b"", {})

    assert isinstance(raised.value, BadResponse | ConnectionClosed)
    assert not connection.is_open, "nothing half-read is reused"


def test_the_host_header_names_the_port_only_when_it_is_not_the_default() -> None:
    assert Http1Connection("::1", 80, tls=False, timeout=1)._host_header == "[::1]"
    assert Http1Connection("resonate", 443, tls=True, timeout=1)._host_header == "resonate"
    assert Http1Connection("resonate", 8001, tls=True, timeout=1)._host_header == "resonate:8001"
