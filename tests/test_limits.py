"""Limits on what a client can take: connections (in all and per address), messages a second, subscriptions.

Each limit is hit over real connections while another client of the same server keeps receiving every seq.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tornado.ioloop import IOLoop
from tornado.web import Application

from feeds.hub import Hub
from feeds.producer import Producer
from handlers.endpoints.app import make_app
from handlers.endpoints.socket import FeedSocket
from handlers.settings import Settings
from handlers.transport.connections import Connections

from .rawws import RawClient
from .waiting import until
from .wsclient import Client

LIMITS = Settings(max_connections=4, max_connections_per_ip=2, max_rate=50.0, max_burst=10, max_subscriptions=1)


@pytest.fixture
def app(hub: Hub, io_loop: IOLoop, connections: Connections[FeedSocket]) -> Iterator[Application]:
    producer = Producer(hub.feeds, hub)
    producer.start()
    yield make_app(hub, LIMITS, connections=connections)
    io_loop.run_sync(producer.stop)


def assert_every_seq(ticks: list[object]) -> None:
    seqs = [tick.seq for tick in ticks]  # type: ignore[attr-defined]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


@pytest.mark.gen_test(timeout=20)
async def test_connections_over_the_limits_get_503_before_the_upgrade(
    http_server: object, http_port: int, connections: Connections[FeedSocket]
) -> None:
    bystander = await Client.connect(http_port)  # from 127.0.0.1
    await bystander.subscribe("stocks")
    first, _ = await RawClient.handshake(http_port)  # 127.0.0.1's second: its last
    refused, response = await RawClient.handshake(http_port)
    assert refused is None
    assert response.startswith(b"HTTP/1.1 503 Too Many Connections From This Address")
    others = [await RawClient.connect(http_port, source=f"127.0.0.{n}") for n in (2, 3)]  # four in all
    refused, response = await RawClient.handshake(http_port, source="127.0.0.4")
    assert refused is None
    assert response.startswith(b"HTTP/1.1 503 Too Many Connections")
    assert len(connections) == 4
    # A place freed is a place taken.
    others[0].close()
    await until(lambda: len(connections) == 3)
    again = await RawClient.connect(http_port, source="127.0.0.4")
    assert_every_seq(await bystander.ticks(5))
    for client in (first, again, others[1]):
        assert client is not None
        client.close()
    bystander.close()


@pytest.mark.gen_test(timeout=20)
async def test_a_flooding_client_is_refused_then_closed_and_nobody_else_notices(
    http_server: object, http_port: int
) -> None:
    bystander = await Client.connect(http_port)
    await bystander.subscribe("stocks")
    flooder = await Client.connect(http_port)
    for _ in range(200):
        flooder.send({"op": "ping"})
    replies = []
    while (message := await flooder.connection.read_message()) is not None:
        replies.append(message)
    codes = [reply for reply in replies if "rate_limited" in str(reply)]
    # The burst is answered; then as many refusals as the burst allows, then the close.
    assert len(codes) == LIMITS.max_burst - 1
    assert flooder.connection.close_code == 1008
    assert flooder.connection.close_reason == "rate limit exceeded"
    flooder.close()
    assert_every_seq(await bystander.ticks(5))
    bystander.close()


@pytest.mark.gen_test
async def test_one_subscription_too_many_is_refused(http_server: object, http_port: int) -> None:
    client = await Client.connect(http_port)
    await client.subscribe("stocks")
    error = await client.request({"op": "subscribe", "feed": "system", "id": 7})
    assert (error["code"], error["id"]) == ("too_many_subscriptions", 7)
    assert_every_seq(await client.ticks(5, feed="stocks"))
    client.close()
