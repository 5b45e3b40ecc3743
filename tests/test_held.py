"""The held subscribe (docs/protocol.md): a subscribe to a feed whose fields are not known yet waits for its first
sample, over real connections to the real application.

``gated`` is a plugin as a new user writes it, an ``async def sample()`` and no fields declared, whose first sample
waits until the test says go: every subscribe here comes before it, as a page's does right after a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

import orjson
import pytest

from feeds import Feed
from feeds.codec import Format
from feeds.encoded import Encoded
from feeds.hub import Hub, Subscriber, Waiter, wait_seconds
from feeds.stocks import StocksFeed
from handlers.endpoints.socket import FeedSocket
from handlers.transport.connections import Connections

from .conftest import STOCKS_INTERVAL, STOCKS_SEED
from .waiting import changed, until
from .wsclient import Client

Connect = Callable[[], Coroutine[Any, Any, Client]]


class Gated(Feed):
    """No fields declared; ``sample()`` is async and returns only once ``go`` is set."""

    name = "gated"
    interval = 0.02
    timeout = 5.0

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()
        self.n = 0

    async def sample(self) -> dict[str, float]:  # type: ignore[override]
        await self.go.wait()
        self.n += 1
        return {"count": self.n, "double": 2 * self.n}


class Never(Feed):
    """No fields declared, and not one good sample: the subscribe is refused once its wait is over."""

    name = "never"
    interval = 0.02
    timeout = 0.1

    async def sample(self) -> dict[str, float]:  # type: ignore[override]
        raise ConnectionError("sensor unplugged")


@pytest.fixture
def gated() -> Gated:
    return Gated()


class Telling(Hub):
    """The hub, telling a test's `until` after each subscription, wait and delivery it takes."""

    def subscribe(self, feed: str, subscriber: Subscriber, fmt: Format) -> None:
        super().subscribe(feed, subscriber, fmt)
        changed()

    def unsubscribe(self, feed: str, subscriber: Subscriber) -> None:
        super().unsubscribe(feed, subscriber)
        changed()

    def wait_for_fields(self, feed: str, subscriber: Subscriber, waiter: Waiter) -> None:
        super().wait_for_fields(feed, subscriber, waiter)
        changed()

    def deliver(self, messages: Sequence[Encoded]) -> None:
        super().deliver(messages)
        changed()


@pytest.fixture
def hub(gated: Gated) -> Hub:
    return Telling([StocksFeed(interval=STOCKS_INTERVAL, seed=STOCKS_SEED), gated, Never()])


@pytest.fixture
def connect(http_server: object, http_port: int) -> AsyncIterator[Connect]:
    clients: list[Client] = []

    async def connect() -> Client:
        client = await Client.connect(http_port)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


async def next_message(client: Client) -> dict[str, Any]:
    """The very next frame, which must be a JSON message (not a binary tick)."""
    frame = await client.receive()
    assert isinstance(frame, str), frame
    message: dict[str, Any] = orjson.loads(frame)
    return message


@pytest.mark.gen_test
@pytest.mark.parametrize(
    "extra",
    [{}, {"format": "binary"}, {"history": 10}, {"since": 40, "run": 9}],
    ids=["json", "binary", "history", "resume-after-restart"],
)
async def test_a_subscribe_before_the_first_sample_is_answered_with_its_fields_then_every_tick(
    connect: Connect, hub: Hub, gated: Gated, extra: dict[str, Any]
) -> None:
    client = await connect()
    client.send({"op": "subscribe", "feed": "gated", "id": "s", **extra})
    await until(lambda: len(hub.waiting("gated")) == 1)
    # Held, not stuck: the connection's other messages are answered meanwhile, and nothing of the feed comes.
    client.send({"op": "ping", "id": "p"})
    assert (await next_message(client))["op"] == "pong"
    gated.go.set()
    reply = await next_message(client)
    assert (reply["op"], reply["id"], reply["fields"]) == ("subscribed", "s", ["count", "double"])
    assert (reply["replayed"], reply["gap"]) == (0, "since" in extra)
    assert reply["format"] == extra.get("format", "json")
    client.fields["gated"] = tuple(reply["fields"])
    ticks = await client.ticks(3)
    assert [tick.seq for tick in ticks] == [1, 2, 3]
    assert [dict(zip(tick.fields, tick.values, strict=True)) for tick in ticks] == [
        {"count": n, "double": 2 * n} for n in (1, 2, 3)
    ]
    assert hub.waiting("gated") == []


@pytest.mark.gen_test
async def test_a_feed_with_no_good_sample_is_not_ready_once_the_wait_is_over(connect: Connect, hub: Hub) -> None:
    client = await connect()
    started = time.monotonic()
    reply = await client.request({"op": "subscribe", "feed": "never", "id": 1})
    waited = time.monotonic() - started
    bound = wait_seconds(hub.feed("never"))
    assert (reply["op"], reply["code"], reply["id"]) == ("error", "feed_not_ready", 1)
    assert reply["message"].startswith(f"feed 'never' produced no sample within {bound:g} s")
    # The event loop's timers may run a millisecond early; a wait cut short by more is a bug.
    assert waited >= bound - 0.01, waited
    assert hub.waiting("never") == []
    assert hub.status("never").failures >= 1
    assert (await client.request({"op": "ping", "id": 2}))["op"] == "pong"


@pytest.mark.gen_test
async def test_unsubscribe_while_held_answers_both_and_no_tick_follows(
    connect: Connect, hub: Hub, gated: Gated
) -> None:
    client = await connect()
    client.send({"op": "subscribe", "feed": "gated", "id": "s"})
    client.send({"op": "unsubscribe", "feed": "gated", "id": "u"})
    assert await next_message(client) == {"op": "unsubscribed", "feed": "gated", "id": "s"}
    assert await next_message(client) == {"op": "unsubscribed", "feed": "gated", "id": "u"}
    assert hub.waiting("gated") == []
    gated.go.set()
    await until(lambda: len(hub.history("gated")) >= 2)
    client.send({"op": "ping", "id": "p"})
    assert (await next_message(client))["op"] == "pong"  # no tick, no status of the feed came before it


@pytest.mark.gen_test
async def test_closing_while_held_leaves_nothing_behind_in_the_hub(
    connect: Connect, hub: Hub, gated: Gated, connections: Connections[FeedSocket]
) -> None:
    leaver = await connect()
    leaver.send({"op": "subscribe", "feed": "gated"})
    await until(lambda: len(hub.waiting("gated")) == 1)
    leaver.close()
    await until(lambda: hub.waiting("gated") == [] and len(connections) == 0)
    gated.go.set()
    await until(lambda: len(hub.history("gated")) >= 1)
    assert hub.subscriber_count("gated") == 0
    # The feed and the server go on: a newcomer subscribes at once.
    client = await connect()
    assert (await client.subscribe("gated"))["fields"] == ["count", "double"]
    assert len(await client.ticks(3, "gated")) == 3


@pytest.mark.gen_test
async def test_a_second_subscribe_while_held_is_already_subscribed_and_the_first_is_answered(
    connect: Connect, hub: Hub, gated: Gated
) -> None:
    client = await connect()
    client.send({"op": "subscribe", "feed": "gated", "id": 1})
    error = await client.request({"op": "subscribe", "feed": "gated", "format": "binary", "id": 2})
    assert (error["op"], error["code"], error["id"]) == ("error", "already_subscribed", 2)
    gated.go.set()
    reply = await next_message(client)
    assert (reply["op"], reply["id"], reply["format"]) == ("subscribed", 1, "json")
    client.fields["gated"] = tuple(reply["fields"])
    assert [tick.seq for tick in await client.ticks(3)] == [1, 2, 3]
