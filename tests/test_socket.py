"""The WebSocket protocol (docs/protocol.md) over real connections to the real application."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import orjson
import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from feeds.hub import Hub
from handlers.endpoints.socket import FeedSocket
from handlers.settings import Settings
from handlers.transport.connections import Connections

from .wsclient import Client

FEEDS = ("system", "stocks")
FORMATS = ("json", "binary")
MAX_MESSAGE_BYTES = Settings().max_message_bytes
Connect = Callable[..., Coroutine[Any, Any, Client]]


@pytest.fixture
def connect(http_server: object, http_port: int) -> AsyncIterator[Connect]:
    clients: list[Client] = []

    async def connect(**options: Any) -> Client:
        client = await Client.connect(http_port, **options)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def assert_consecutive(ticks: list[Any]) -> None:
    seqs = [tick.seq for tick in ticks]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    assert len({tick.run for tick in ticks}) == 1


@pytest.mark.gen_test
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("feed", FEEDS)
async def test_subscribe_then_consecutive_ticks(connect: Connect, hub: Hub, feed: str, fmt: str) -> None:
    client = await connect()
    reply = await client.request({"op": "subscribe", "feed": feed, "format": fmt, "id": "s1"})
    assert reply.pop("status") in ("starting", "ok")
    assert (reply.pop("failures"), reply.pop("error")) == (0, None)
    run = reply.pop("run")
    assert (reply.pop("replayed"), reply.pop("gap")) == (0, False)
    assert reply == {
        "op": "subscribed",
        "feed": feed,
        "format": fmt,
        "fields": [field.name for field in hub.feed(feed).fields],
        "id": "s1",
    }
    ticks = await client.ticks(5)
    assert {tick.feed for tick in ticks} == {feed}
    assert_consecutive(ticks)
    assert run is None or run == ticks[0].run
    for tick in ticks:
        assert tick.fields == tuple(reply["fields"])
        assert all(math.isfinite(value) for value in tick.values)


@pytest.mark.gen_test
async def test_format_defaults_to_json(connect: Connect) -> None:
    client = await connect()
    reply = await client.request({"op": "subscribe", "feed": "stocks"})
    assert reply["format"] == "json"
    assert "id" not in reply
    _, frame = await client.tick()
    assert isinstance(frame, str)


@pytest.mark.gen_test
async def test_binary_and_json_frames_of_a_tick_carry_the_same_values(connect: Connect) -> None:
    text, binary = await connect(), await connect()
    await text.subscribe("stocks", "json")
    await binary.subscribe("stocks", "binary")
    from_binary = {tick.seq: tick for tick in await binary.ticks(10)}
    for tick in await text.ticks(10):
        if tick.seq in from_binary:
            assert from_binary[tick.seq] == tick
            return
    pytest.fail("the two connections saw no common tick")


@pytest.mark.gen_test
@pytest.mark.parametrize("fmt", FORMATS)
async def test_clients_receive_identical_bytes_for_a_tick(connect: Connect, fmt: str) -> None:
    first, second = await connect(), await connect()
    await first.subscribe("stocks", fmt)
    await second.subscribe("stocks", fmt)
    # A tick may reach the first before the second has subscribed: compare the ticks both received.
    frames = [
        {tick.seq: frame for tick, frame in [await client.tick() for _ in range(10)]} for client in (first, second)
    ]
    common = sorted(set(frames[0]) & set(frames[1]))
    assert len(common) >= 3
    assert [frames[0][seq] for seq in common] == [frames[1][seq] for seq in common]


@pytest.mark.gen_test
async def test_two_feeds_on_one_connection(connect: Connect) -> None:
    client = await connect()
    await client.subscribe("system", "json")
    await client.subscribe("stocks", "binary")
    ticks = await client.ticks(40)
    for feed in FEEDS:
        assert_consecutive([tick for tick in ticks if tick.feed == feed])
    assert {tick.feed for tick in ticks} == set(FEEDS)


@pytest.mark.gen_test
async def test_unsubscribe_stops_data(connect: Connect) -> None:
    client = await connect()
    await client.subscribe("system")
    await client.subscribe("stocks")
    assert await client.request({"op": "unsubscribe", "feed": "stocks", "id": 9}) == {
        "op": "unsubscribed",
        "feed": "stocks",
        "id": 9,
    }
    # Stocks ticks more than twice as often as system: five system ticks would have brought about a dozen of them.
    client.forget_buffered_ticks()
    seen = []
    while sum(feed == "system" for feed in seen) < 5:
        tick, _ = await client.tick()
        seen.append(tick.feed)
    assert set(seen) == {"system"}


@pytest.mark.gen_test
async def test_subscribe_again_after_unsubscribe_in_another_format(connect: Connect) -> None:
    client = await connect()
    await client.subscribe("stocks", "json")
    await client.request({"op": "unsubscribe", "feed": "stocks"})
    client.forget_buffered_ticks()  # JSON ticks that came before the unsubscribed reply
    await client.subscribe("stocks", "binary")
    _, frame = await client.tick()
    assert isinstance(frame, bytes)


@pytest.mark.gen_test
async def test_ping_gets_pong_with_its_id(connect: Connect) -> None:
    client = await connect()
    before = time.time()
    pong = await client.request({"op": "ping"})
    assert pong.keys() == {"op", "ts"} and pong["op"] == "pong"
    assert before <= pong["ts"] <= time.time()  # the server's clock, which stamps the ticks
    for identifier in ("p-1", 42, 2.5):
        assert (await client.request({"op": "ping", "id": identifier}))["id"] == identifier
    refused = await client.request({"op": "ping", "id": {"nested": [1, 2.5, None, "x"]}})
    assert (refused["code"], "id" in refused) == ("invalid_message", False)


BAD_INPUTS = [
    pytest.param("{not json", "invalid_json", False, id="invalid-json"),
    pytest.param("[1, 2]", "not_an_object", False, id="non-object"),
    pytest.param('"subscribe"', "not_an_object", False, id="json-string"),
    pytest.param({"feed": "stocks", "id": 1}, "missing_op", True, id="missing-op"),
    pytest.param({"op": "subscrbe", "id": 1}, "unknown_op", True, id="unknown-op"),
    pytest.param({"op": 42, "id": 1}, "unknown_op", True, id="op-not-a-string"),
    pytest.param({"op": "subscribe", "id": 1}, "invalid_message", True, id="missing-feed"),
    pytest.param({"op": "subscribe", "feed": ["stocks"], "id": 1}, "invalid_message", True, id="feed-not-a-string"),
    pytest.param(
        {"op": "subscribe", "feed": "stocks", "fromat": "json", "id": 1}, "invalid_message", True, id="unexpected-key"
    ),
    pytest.param({"op": "subscribe", "feed": "stoks", "id": 1}, "unknown_feed", True, id="unknown-feed"),
    pytest.param(
        {"op": "subscribe", "feed": "system", "format": "xml", "id": 1}, "unknown_format", True, id="unknown-format"
    ),
    pytest.param({"op": "subscribe", "feed": "stocks", "id": 1}, "already_subscribed", True, id="double-subscribe"),
    pytest.param({"op": "unsubscribe", "feed": "system", "id": 1}, "not_subscribed", True, id="not-subscribed"),
    pytest.param({"op": "unsubscribe", "feed": "nope", "id": 1}, "unknown_feed", True, id="unsubscribe-unknown"),
    pytest.param(b"\x00\x01binary", "binary_not_supported", False, id="binary-frame"),
]


@pytest.mark.gen_test
@pytest.mark.parametrize(("message", "code", "echoes_id"), BAD_INPUTS)
async def test_bad_input_gets_an_error_and_changes_nothing(
    connect: Connect, message: Any, code: str, echoes_id: bool
) -> None:
    client, bystander = await connect(), await connect()
    await client.subscribe("stocks")
    await bystander.subscribe("stocks", "binary")
    before = (await client.ticks(1))[0]

    error = await client.request(message)
    assert error["op"] == "error"
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert ("id" in error) == echoes_id
    if echoes_id:
        assert error["id"] == 1

    # The connection still answers, its subscription is intact and ticks keep coming without a gap.
    assert (await client.request({"op": "ping", "id": "after"})).items() >= {"op": "pong", "id": "after"}.items()
    after = await client.ticks(3)
    assert_consecutive([before, *after])
    assert_consecutive(await bystander.ticks(5))


@pytest.mark.gen_test
async def test_unknown_feed_error_lists_known_feeds(connect: Connect) -> None:
    client = await connect()
    error = await client.request({"op": "subscribe", "feed": "stoks"})
    assert error["message"] == "unknown feed 'stoks' (known: stocks, system)"


@pytest.mark.gen_test
async def test_oversized_message_closes_that_connection_only(connect: Connect) -> None:
    bystander = await connect()
    await bystander.subscribe("stocks")
    offender = await connect(max_message_size=MAX_MESSAGE_BYTES * 4)
    offender.send(orjson.dumps({"op": "ping", "id": "x" * MAX_MESSAGE_BYTES}).decode())
    assert await offender.connection.read_message() is None
    assert offender.connection.close_code == 1009
    # The server is still up, and the other client's feed did not skip a tick.
    assert_consecutive(await bystander.ticks(5))
    fresh = await connect()
    assert (await fresh.request({"op": "ping"}))["op"] == "pong"


@pytest.mark.gen_test
async def test_message_just_under_the_limit_is_accepted(connect: Connect) -> None:
    client = await connect()
    padded = '{"op": "ping", "id": 7' + " " * (MAX_MESSAGE_BYTES - 100) + "}"  # JSON may be this wide
    client.send(padded)
    assert (await client.reply()).items() >= {"op": "pong", "id": 7}.items()


@pytest.mark.gen_test
async def test_closing_a_subscribed_connection_unsubscribes_it(connect: Connect, hub: Hub) -> None:
    watcher = await connect()
    await watcher.subscribe("stocks")
    leaver = await connect()
    await leaver.subscribe("stocks")
    assert hub.subscriber_count("stocks") == 2
    leaver.close()
    # Wait on the server's own state, tick by tick, rather than on the clock.
    while hub.subscriber_count("stocks") != 1:
        await watcher.tick()
    assert_consecutive(await watcher.ticks(5))


@pytest.mark.gen_test
async def test_cross_origin_handshake_is_refused(http_server: object, http_port: int) -> None:
    request = HTTPRequest(f"ws://127.0.0.1:{http_port}/ws", headers={"Origin": "http://evil.example"})
    with pytest.raises(HTTPClientError) as caught:
        await websocket_connect(request)
    assert caught.value.code == 403


@pytest.mark.gen_test
async def test_a_connection_whose_send_fails_is_closed_not_left_half_subscribed(
    connect: Connect, hub: Hub, connections: Connections[FeedSocket], caplog: pytest.LogCaptureFixture
) -> None:
    victim, bystander = await connect(), await connect()
    await victim.subscribe("stocks")
    await bystander.subscribe("stocks")
    server_side = next(iter(connections))
    assert server_side.writer is not None

    def broken_send(data: bytes) -> int:
        raise RuntimeError("injected fault")

    server_side.writer._send = broken_send  # a fault below the hub: the next tick's send raises
    with caplog.at_level(logging.WARNING):
        while await victim.connection.read_message() is not None:
            pass
    # Closed with a code and a log line, not quietly dropped; unsubscribed from everything.
    assert (victim.connection.close_code, victim.connection.close_reason) == (1011, "internal error")
    assert any(record.exc_info and "failed send" in record.getMessage() for record in caplog.records)
    assert any("with 1011: internal error" in record.getMessage() for record in caplog.records)
    assert hub.subscribers("stocks") == [bystander_side.writer for bystander_side in connections]
    assert_consecutive(await bystander.ticks(5))
