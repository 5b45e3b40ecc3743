"""The private redis-server of the tests (tools/redisserver.py): it starts on a free port and answers, keeps its
data across a restart only when asked to, and stops, pauses and resumes on command."""

from __future__ import annotations

import socket

import pytest

from tools.redisserver import DEFAULT_REDIS_PORT, RedisServer, command

# Short enough for a paused server to be noticed quickly, long enough for a running one to answer.
PAUSED_TIMEOUT_S = 0.5


def test_the_fixture_serves_on_a_free_port_that_is_not_redis_default(redis_server: RedisServer) -> None:
    assert redis_server.port != DEFAULT_REDIS_PORT
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert command(redis_server.port, "PING") == b"+PONG\r\n"
    assert command(redis_server.port, "SET", "greeting", "hello") == b"+OK\r\n"
    assert command(redis_server.port, "GET", "greeting") == b"$5\r\nhello\r\n"


def test_without_persistence_a_restart_comes_back_empty_on_the_same_port(redis_server: RedisServer) -> None:
    port = redis_server.port
    command(port, "SET", "key", "value")
    redis_server.stop()
    redis_server.start()
    assert redis_server.port == port
    assert command(port, "GET", "key") == b"$-1\r\n"


@pytest.mark.parametrize("stop", ["stop", "kill"])
def test_with_persistence_a_restart_keeps_the_data(stop: str) -> None:
    with RedisServer(persist=True) as redis:
        port, pid = redis.port, redis.pid
        command(port, "SET", "key", "value")
        getattr(redis, stop)()
        redis.start()
        assert redis.pid != pid
        assert redis.port == port
        assert command(port, "GET", "key") == b"$5\r\nvalue\r\n"


def test_restart_empty_loses_persisted_data() -> None:
    with RedisServer(persist=True) as redis:
        command(redis.port, "SET", "key", "value")
        redis.restart_empty()
        assert command(redis.port, "GET", "key") == b"$-1\r\n"


def test_a_stopped_server_refuses_connections(redis_server: RedisServer) -> None:
    redis_server.stop()
    with pytest.raises(ConnectionRefusedError):
        command(redis_server.port, "PING")


def test_a_paused_server_answers_nothing_until_resumed(redis_server: RedisServer) -> None:
    redis_server.pause()
    with pytest.raises(socket.timeout):
        command(redis_server.port, "PING", timeout=PAUSED_TIMEOUT_S)
    redis_server.resume()
    assert command(redis_server.port, "PING") == b"+PONG\r\n"


def test_a_paused_server_still_stops(redis_server: RedisServer) -> None:
    redis_server.pause()
    redis_server.stop()
    assert redis_server.process is not None and redis_server.process.returncode is not None


def test_port_6379_is_refused() -> None:
    with pytest.raises(ValueError, match="port 6379 belongs to the machine's own redis"):
        RedisServer(port=DEFAULT_REDIS_PORT)


def test_a_server_with_a_password_wants_it() -> None:
    with RedisServer(password="Sw0rdf1sh") as redis:
        assert redis.url == f"redis://:Sw0rdf1sh@127.0.0.1:{redis.port}/0"
        assert command(redis.port, "PING").startswith(b"-NOAUTH ")
        assert command(redis.port, "PING", password="Sw0rdf1sh") == b"+PONG\r\n"
        with pytest.raises(ConnectionError, match="refused the password"):
            command(redis.port, "PING", password="wrong")
