"""Shared fixtures: a real application with fast, seeded feeds, served on a real socket by pytest-tornado, and a
real redis-server of the test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tornado.ioloop import IOLoop
from tornado.web import Application

from feeds.hub import Hub
from feeds.producer import Producer
from feeds.stocks import StocksFeed
from feeds.system import SystemFeed
from handlers.endpoints.app import make_app
from handlers.endpoints.socket import FeedSocket
from handlers.transport.connections import Connections
from tools.redisserver import RedisServer

from .waiting import changed

# Fast ticks keep the tests short; the seed makes the stock prices reproducible.
SYSTEM_INTERVAL = 0.05
STOCKS_INTERVAL = 0.02
STOCKS_SEED = 7


@pytest.fixture
def hub() -> Hub:
    return Hub([SystemFeed(interval=SYSTEM_INTERVAL), StocksFeed(interval=STOCKS_INTERVAL, seed=STOCKS_SEED)])


class Registry(Connections[FeedSocket]):
    """The registry of open connections, telling a test's `until` as each one, or each HTTP socket, opens or
    closes."""

    def add(self, connection: FeedSocket, client: str = "") -> None:
        super().add(connection, client)
        changed()

    def discard(self, connection: FeedSocket) -> None:
        super().discard(connection)
        changed()

    def socket_opened(self, client: str) -> None:
        super().socket_opened(client)
        changed()

    def socket_closed(self, client: str) -> None:
        super().socket_closed(client)
        changed()


@pytest.fixture
def connections() -> Connections[FeedSocket]:
    """The app's registry of open connections: the server side of each test client."""
    return Registry()


@pytest.fixture
def app(hub: Hub, io_loop: IOLoop, connections: Connections[FeedSocket]) -> Iterator[Application]:
    producer = Producer(hub.feeds, hub)
    producer.start()
    yield make_app(hub, connections=connections)
    io_loop.run_sync(producer.stop)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private, empty redis-server on a free port (never 6379), stopped and deleted after the test."""
    with RedisServer() as server:
        yield server
