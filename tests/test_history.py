"""feeds.history and the replay it serves: history at first paint, resume after a reconnect with no hole and no
duplicate, and a gap said out loud when the server no longer holds what was missed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tornado.ioloop import IOLoop
from tornado.web import Application

from feeds.encoded import EncodedTick
from feeds.history import History
from feeds.hub import Hub
from feeds.producer import Producer
from feeds.stocks import StocksFeed
from feeds.system import SystemFeed
from feeds.tick import Tick
from handlers.endpoints.app import make_app
from handlers.settings import Settings

from .conftest import STOCKS_INTERVAL, STOCKS_SEED, SYSTEM_INTERVAL
from .wsclient import Client

HELD = 40


def encoded(seq: int, run: int = 1, ts: float | None = None) -> EncodedTick:
    return EncodedTick.of(Tick("f", run, seq, 1000.0 + seq if ts is None else ts, ("x",), (float(seq),)))


def seqs(replay: Any) -> list[int]:
    return [tick.seq for tick in replay.ticks]


# --- the ring alone --------------------------------------------------------------------------------------------


def test_the_ring_holds_at_most_its_ticks_and_its_seconds() -> None:
    history = History(max_ticks=5, max_seconds=100.0)
    for seq in range(1, 9):
        history.append(encoded(seq))
    assert seqs(history.last(99)) == [4, 5, 6, 7, 8]
    history.append(encoded(9, ts=1200.0))  # a long pause: everything before 1100 is too old now
    assert seqs(history.last(99)) == [9]


def test_last_gives_the_newest_n() -> None:
    history = History(100, 3600.0)
    for seq in range(1, 11):
        history.append(encoded(seq))
    assert seqs(history.last(3)) == [8, 9, 10]
    assert seqs(history.last(0)) == []
    assert (history.last(50).gap, len(history.last(50).ticks)) == (False, 10)


def test_since_gives_what_followed_or_says_there_is_a_gap() -> None:
    history = History(5, 3600.0)
    for seq in range(1, 11):
        history.append(encoded(seq, run=7))  # holds 6 to 10
    assert (seqs(history.since(7)), history.since(7).gap, history.since(7).run) == ([8, 9, 10], False, 7)
    assert (seqs(history.since(5, run=7)), history.since(5, run=7).gap) == ([6, 7, 8, 9, 10], False)
    assert (seqs(history.since(10)), history.since(10).gap) == ([], False)
    assert (seqs(history.since(3)), history.since(3).gap) == ([6, 7, 8, 9, 10], True)  # 4 and 5 are gone
    assert (seqs(history.since(9, run=6)), history.since(9, run=6).gap) == ([6, 7, 8, 9, 10], True)  # a restart


def test_without_held_ticks_since_still_tells_a_gap() -> None:
    kept_none = History(0, 3600.0)
    for seq in range(1, 6):
        kept_none.append(encoded(seq, run=3))
    assert (seqs(kept_none.since(2, run=3)), kept_none.since(2, run=3).gap, kept_none.run) == ([], True, 3)
    assert kept_none.since(5, run=3).gap is False  # nothing was missed
    assert kept_none.since(5, run=2).gap is True  # another run
    fresh = History(100, 3600.0)  # a restarted server, before its first tick
    assert (fresh.since(9, run=2).gap, fresh.since(9).gap, fresh.last(5).gap) == (True, False, False)


def test_a_new_run_starts_a_new_history() -> None:
    history = History(100, 3600.0)
    for seq in range(1, 6):
        history.append(encoded(seq, run=1))
    history.append(encoded(1, run=2))
    assert (seqs(history.last(99)), history.run) == ([1], 2)
    assert History(100, 3600.0).since(5).run is None


# --- over real connections -------------------------------------------------------------------------------------


@pytest.fixture
def hub() -> Hub:
    # A short ring, so that a test can outrun it.
    feeds = [SystemFeed(interval=SYSTEM_INTERVAL), StocksFeed(interval=STOCKS_INTERVAL, seed=STOCKS_SEED)]
    return Hub(feeds, history_ticks=HELD)


@pytest.fixture
def app(hub: Hub, io_loop: IOLoop) -> Iterator[Application]:
    producer = Producer(hub.feeds, hub)
    producer.start()
    yield make_app(hub, Settings(max_backlog_bytes=16 * 1024, history_ticks=HELD))
    io_loop.run_sync(producer.stop)


async def held(hub: Hub, client: Client, count: int) -> None:
    """Wait (on a watching client's ticks) until the stocks feed's history holds ``count`` ticks."""
    while len(hub.history("stocks")) < count:
        await client.tick()


@pytest.mark.gen_test
@pytest.mark.parametrize("fmt", ["json", "binary"])
async def test_history_n_starts_with_the_last_n_ticks_then_goes_on_live(
    http_server: object, http_port: int, hub: Hub, fmt: str
) -> None:
    watcher = await Client.connect(http_port)
    await watcher.subscribe("stocks")
    await held(hub, watcher, 10)
    client = await Client.connect(http_port)
    reply = await client.request({"op": "subscribe", "feed": "stocks", "format": fmt, "history": 10})
    assert (reply["op"], reply["replayed"], reply["gap"]) == ("subscribed", 10, False)
    ticks = await client.ticks(20)
    assert [tick.seq for tick in ticks] == list(range(ticks[0].seq, ticks[0].seq + 20))  # no hole, no repeat
    assert {tick.run for tick in ticks} == {reply["run"]}
    watcher.close()
    client.close()


@pytest.mark.gen_test
async def test_a_client_back_from_a_cut_gets_exactly_what_it_missed(
    http_server: object, http_port: int, hub: Hub
) -> None:
    watcher = await Client.connect(http_port)
    await watcher.subscribe("stocks")
    client = await Client.connect(http_port)
    await client.subscribe("stocks", "binary")
    last = (await client.ticks(3))[-1]
    client.close()  # cut: ticks go on without it
    while (await watcher.tick())[0].seq < last.seq + 8:
        pass
    again = await Client.connect(http_port)
    reply = await again.request(
        {"op": "subscribe", "feed": "stocks", "format": "binary", "since": last.seq, "run": last.run}
    )
    assert (reply["gap"], reply["run"]) == (False, last.run)
    assert reply["replayed"] >= 8
    ticks = await again.ticks(reply["replayed"] + 10)
    assert [tick.seq for tick in ticks] == list(range(last.seq + 1, last.seq + 1 + len(ticks)))
    watcher.close()
    again.close()


@pytest.mark.gen_test
async def test_since_older_than_the_ring_or_of_another_run_says_gap(
    http_server: object, http_port: int, hub: Hub
) -> None:
    watcher = await Client.connect(http_port)
    await watcher.subscribe("stocks")
    while not (ticks := hub.history("stocks").last(HELD).ticks) or ticks[0].seq <= 10:
        await watcher.tick()  # until the ring has dropped its first ten ticks
    oldest = hub.history("stocks").last(HELD).ticks[0]
    run = oldest.run
    client = await Client.connect(http_port)
    too_old = await client.request({"op": "subscribe", "feed": "stocks", "since": oldest.seq - 5, "run": run})
    assert (too_old.get("gap"), too_old.get("replayed", 0) >= HELD - 1) == (True, True), too_old
    await client.request({"op": "unsubscribe", "feed": "stocks"})
    client.forget_buffered_ticks()
    restarted = await client.request({"op": "subscribe", "feed": "stocks", "since": 12, "run": (run % 1000) + 1})
    assert (restarted.get("gap"), restarted.get("run")) == (True, run), restarted
    watcher.close()
    client.close()


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"history": -1}, "'history' must be from 0 to"),
        ({"history": "10"}, "'history' must be an integer, got str"),
        ({"history": 1.5}, "'history' must be an integer, got float"),
        ({"since": True}, "'since' must be an integer, got bool"),
        ({"since": 3, "run": 2**40}, "'run' must be from 0 to 4294967295"),
        ({"run": 5}, "'run' goes with 'since'"),
        ({"history": 5, "since": 3}, "give 'history' or 'since' in subscribe, not both"),
    ],
)
async def test_bad_history_since_or_run_is_invalid_message(
    http_server: object, http_port: int, extra: dict[str, Any], message: str
) -> None:
    client = await Client.connect(http_port)
    error = await client.request({"op": "subscribe", "feed": "stocks", **extra, "id": 1})
    assert (error["code"], error["id"]) == ("invalid_message", 1)
    assert error["message"].startswith(message), error["message"]
    assert (await client.subscribe("stocks"))["op"] == "subscribed"  # nothing changed
    client.close()
