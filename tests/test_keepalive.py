"""handlers.transport.keepalive: one timer pings every connection; a peer that stops answering is closed."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator

import pytest
from tornado.ioloop import IOLoop
from tornado.web import Application

from feeds.frames import Opcode
from feeds.hub import Hub
from feeds.producer import Producer
from handlers.endpoints.app import make_app
from handlers.protocol.codes import CloseCode
from handlers.settings import Settings
from handlers.transport.connections import Connections
from handlers.transport.keepalive import Keepalive

from .rawws import CLOSE, RawClient
from .wsclient import Client

PING_INTERVAL = 0.1


@pytest.fixture
def app(hub: Hub, io_loop: IOLoop) -> Iterator[Application]:
    producer = Producer(hub.feeds, hub)
    producer.start()
    yield make_app(hub, Settings(ping_interval=PING_INTERVAL, ping_timeout=PING_INTERVAL))
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
    assert (code, payload[2:]) == (CloseCode.INTERNAL_ERROR, b"no answer to ping")
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


@pytest.mark.gen_test(timeout=10)
async def test_nothing_follows_the_close_frame(http_server: object, http_port: int, hub: Hub) -> None:
    """A request that arrives after the server closed the connection gets no reply, and no tick follows."""
    silent = await RawClient.connect(http_port)
    while (await silent.read_frame(pings=True))[0] != CLOSE:
        pass
    silent.send_json({"op": "subscribe", "feed": "stocks"})
    silent.send_close()
    assert await silent.reader.read() == b""  # the server's side ends, with nothing after its Close frame
    assert hub.subscriber_count("stocks") == 0
    silent.close()


class Peer:
    """A connection as the keepalive sees it; answers pings unless ``silent``."""

    def __init__(self, keepalive: Keepalive[Peer], clock: Clock, silent: bool = False) -> None:
        self.keepalive = keepalive
        self.ping_sent: float | None = None
        self.clock = clock
        self.silent = silent
        self.pinged_at: list[float] = []
        self.closed = False

    @property
    def pings(self) -> int:
        return len(self.pinged_at)

    def longest_wait(self) -> float:
        return max(later - earlier for earlier, later in itertools.pairwise(self.pinged_at))

    def send_frame(self, data: bytes, key: object) -> None:
        self.pinged_at.append(self.clock())
        if not self.silent:
            self.keepalive.pong(self)

    def close_dead(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_intervals(keepalive: Keepalive[Peer], clock: Clock, intervals: float) -> None:
    for _ in range(int(intervals * keepalive.slices)):
        clock.now += keepalive.interval / keepalive.slices
        keepalive.ping_slice()


def connected(count: int) -> tuple[Clock, Connections[Peer], Keepalive[Peer], list[Peer]]:
    """A keepalive (20 s interval, 10 s timeout) on a controllable clock, with ``count`` answering peers open."""
    clock = Clock()
    connections: Connections[Peer] = Connections()
    keepalive = Keepalive(connections, 20.0, 10.0, clock)
    peers = [Peer(keepalive, clock) for _ in range(count)]
    for peer in peers:
        connections.add(peer)
    keepalive.start()
    return clock, connections, keepalive, peers


def test_every_connection_is_pinged_once_an_interval_and_none_that_answers_is_closed(io_loop: IOLoop) -> None:
    clock, connections, keepalive, peers = connected(400)
    run_intervals(keepalive, clock, 0.05)
    late = Peer(keepalive, clock)  # joins just after a round began: pinged from the next one on
    connections.add(late)
    joined = clock.now
    run_intervals(keepalive, clock, 5)
    # Most connections go away in the middle of a round.
    for peer in peers[20:]:
        connections.discard(peer)
    run_intervals(keepalive, clock, 5)
    for peer in [*peers[:20], late]:
        assert not peer.closed
        assert peer.pings >= 9
        # About once an interval: where a connection sits in a round shifts as others come and go, by less than one.
        assert peer.longest_wait() <= 2 * keepalive.interval
    assert late.pinged_at[0] - joined <= 2 * keepalive.interval
    for peer in [*peers[:20], late]:
        connections.discard(peer)
    keepalive.ping_slice()


def test_a_silent_connection_is_closed_once_its_ping_is_older_than_the_timeout(io_loop: IOLoop) -> None:
    clock, connections, keepalive, _ = connected(0)
    talker, silent = Peer(keepalive, clock), Peer(keepalive, clock, silent=True)
    connections.add(talker)
    connections.add(silent)
    run_intervals(keepalive, clock, 1)
    assert (silent.pings, silent.closed) == (1, False)
    run_intervals(keepalive, clock, 1)
    assert silent.closed
    assert silent not in connections
    assert not talker.closed
    connections.discard(talker)
    keepalive.ping_slice()


def test_a_keepalive_with_no_connections_holds_none(io_loop: IOLoop) -> None:
    _, connections, keepalive, peers = connected(50)
    keepalive.ping_slice()
    for peer in peers:
        connections.discard(peer)
    keepalive.ping_slice()  # the first slice after the last connection closed stops the timer
    assert keepalive._round == []
    assert keepalive._callback is None


def test_tornados_own_pings_are_refused() -> None:
    """They would go around each connection's writer, which must know of every byte written."""
    with pytest.raises(ValueError, match="ping_interval"):
        make_app(Hub([]), websocket_ping_interval=5)
