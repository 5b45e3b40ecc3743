"""handlers.keepalive: one timer pings every connection; a peer that stops answering is closed, others stay."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from tornado.ioloop import IOLoop
from tornado.web import Application

from feeds.frames import Opcode
from feeds.hub import Hub
from feeds.producer import Producer
from handlers import make_app
from handlers.protocol import CloseCode

from .rawws import CLOSE, RawClient
from .wsclient import Client

PING_INTERVAL = 0.1


@pytest.fixture
def app(hub: Hub, io_loop: IOLoop) -> Iterator[Application]:
    producer = Producer(hub.feeds, hub)
    producer.start()
    yield make_app(hub, ping_interval=PING_INTERVAL)
    io_loop.run_sync(producer.stop)


@pytest.mark.gen_test(timeout=10)
async def test_a_peer_that_never_answers_pings_is_closed(http_server: object, http_port: int, hub: Hub) -> None:
    silent = await RawClient.connect(http_port)
    silent.send_json({"op": "subscribe", "feed": "stocks"})
    pings = 0
    while True:
        opcode, payload, _ = await silent.read_frame(pings=True)
        if opcode == Opcode.PING:
            pings += 1
        elif opcode == CLOSE:
            break
    (code,) = struct.unpack("!H", payload[:2])
    assert (code, payload[2:]) == (CloseCode.NO_PONG, b"no answer to ping")
    assert pings >= 1
    assert hub.subscriber_count("stocks") == 0
    silent.close()


@pytest.mark.gen_test(timeout=10)
async def test_a_peer_that_answers_stays_connected(http_server: object, http_port: int) -> None:
    # Tornado's client answers pings by itself; ten intervals later it still receives every tick.
    client = await Client.connect(http_port)
    await client.subscribe("stocks")
    ticks = await client.ticks(int(10 * PING_INTERVAL / 0.02))
    assert ticks[-1].ts - ticks[0].ts > 5 * PING_INTERVAL
    assert [tick.seq for tick in ticks] == list(range(ticks[0].seq, ticks[0].seq + len(ticks)))
    client.close()
