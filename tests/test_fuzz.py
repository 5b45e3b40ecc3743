"""Property-based fuzzing of the whole protocol against a real server process (hypothesis).

Valid, near-valid and garbage messages, binary frames, deep nesting, huge numbers, long strings and odd unicode go
to the server over several connections. Every message gets a reply or an error frame, the server never dies, its
memory stays bounded, and a well-behaved client watching all along receives every seq.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import orjson
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from handlers.protocol.messages import MAX_FEED_NAME
from tools.harness import Server

CONNECTIONS = 4
REPLY_TIMEOUT = 10.0
REPLIES = {"pong", "subscribed", "unsubscribed", "error", "authed"}
# The fuzzer sends far faster than any client should: the rate limit would close its connections (tested apart).
FUZZ_SERVER = ("--max-rate", "100000", "--max-burst", "100000", "--option", "stocks.interval=0.05")
MAX_RSS_GROWTH = 64 * 1024 * 1024

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50)
json_values = st.recursive(
    json_scalars | st.integers(min_value=-(10**30), max_value=10**30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
feed_names = st.sampled_from(["stocks", "system", "nope", "", "STOCKS", "x" * (MAX_FEED_NAME + 1)]) | st.text(
    max_size=40
)
ops = st.sampled_from(["subscribe", "unsubscribe", "ping", "auth", "pong", "data", ""]) | st.text(max_size=12)
valid = st.one_of(
    st.fixed_dictionaries(
        {"op": st.just("subscribe"), "feed": st.sampled_from(["stocks", "system"])},
        optional={"format": st.sampled_from(["json", "binary"]), "id": json_values},
    ),
    st.fixed_dictionaries({"op": st.just("unsubscribe"), "feed": st.sampled_from(["stocks", "system"])}),
    st.fixed_dictionaries({"op": st.just("ping")}, optional={"id": json_values}),
)
near_valid = st.fixed_dictionaries(
    {"op": ops},
    optional={
        "feed": feed_names | json_values,
        "format": st.sampled_from(["json", "binary", "xml", "JSON"]) | json_values,
        "id": json_values,
        "token": st.text(max_size=100) | json_values,
        "fromat": json_values,
    },
)
garbage_text = st.one_of(
    st.text(max_size=200),
    st.builds(lambda depth: "[" * depth + "]" * depth, st.integers(min_value=1, max_value=5000)),
    st.builds(lambda depth: '{"a":' * depth + "1" + "}" * depth, st.integers(min_value=1, max_value=3000)),
    st.builds(lambda digits: '{"op": "ping", "id": ' + "9" * digits + "}", st.integers(min_value=1, max_value=5000)),
    st.builds(
        lambda size: '{"op": "subscribe", "feed": "' + "é" * size + '"}', st.integers(min_value=0, max_value=20000)
    ),
    st.sampled_from(["", " ", "null", "[]", "{}", '"ping"', "1e999", '{"op": "ping"', "\x00", "\ufeff{}"]),
)


def dumps(value: object) -> str:
    # The standard library's encoder: it writes integers of any size, as a client could.
    return json.dumps(value, ensure_ascii=False)


messages = st.one_of(
    valid.map(dumps),
    near_valid.map(dumps),
    json_values.map(dumps),
    garbage_text,
    st.binary(max_size=300),
)


class Watcher:
    """A well-behaved client, subscribed to stocks in its own thread, keeping every seq it receives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.seqs: list[int] = []
        self.start_rss = 0  # the server's, before the fuzzing
        self._ws = ws
        self._ws.send(orjson.dumps({"op": "subscribe", "feed": "stocks"}).decode())
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for frame in self._ws:
            message = orjson.loads(frame)
            if message["op"] == "data":
                self.seqs.append(message["seq"])

    def close(self) -> None:
        """Close the connection, then wait for the reading thread to see it end (not the other way round: a join
        while the connection is open only waits out its timeout)."""
        self._ws.close()
        self._thread.join(5)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[Server, list[ClientConnection], Watcher]]:
    with Server(*FUZZ_SERVER) as server, ExitStack() as stack:
        url = server.url.replace("http://", "ws://") + "ws"
        watcher = Watcher(stack.enter_context(connect(url, open_timeout=5)))
        stack.callback(watcher.close)
        clients = [stack.enter_context(connect(url, open_timeout=5, max_size=None)) for _ in range(CONNECTIONS)]
        assert server.process is not None
        watcher.start_rss = psutil.Process(server.process.pid).memory_info().rss
        yield server, clients, watcher


def reply_to(client: ClientConnection) -> dict[str, Any]:
    """The next frame that is not a tick or a pushed status: the answer to what was sent."""
    while True:
        frame = client.recv(timeout=REPLY_TIMEOUT)
        if isinstance(frame, bytes):
            continue  # a binary tick
        message: dict[str, Any] = orjson.loads(frame)
        if message.get("op") not in ("data", "status"):
            return message


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=messages, which=st.integers(min_value=0, max_value=CONNECTIONS - 1))
def test_every_message_gets_a_reply_or_an_error(
    fuzzed: tuple[Server, list[ClientConnection], Watcher], message: str | bytes, which: int
) -> None:
    server, clients, _ = fuzzed
    client = clients[which]
    client.send(message)
    reply = reply_to(client)
    assert reply["op"] in REPLIES, reply
    if reply["op"] == "error":
        assert isinstance(reply["code"], str) and reply["code"]
        assert isinstance(reply["message"], str) and reply["message"]
    assert server.process is not None and server.process.poll() is None


def test_afterwards_the_server_is_whole(fuzzed: tuple[Server, list[ClientConnection], Watcher]) -> None:
    """Runs after the fuzzing above (pytest keeps the file's order): alive, bounded, and nobody else noticed."""
    server, clients, watcher = fuzzed
    assert server.process is not None and server.process.poll() is None
    for client in clients:
        client.send(orjson.dumps({"op": "ping", "id": "still there?"}).decode())
        assert reply_to(client).items() >= {"op": "pong", "id": "still there?"}.items()
    seqs = list(watcher.seqs)
    assert len(seqs) > 20
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    rss = psutil.Process(server.process.pid).memory_info().rss
    assert rss - watcher.start_rss < MAX_RSS_GROWTH
