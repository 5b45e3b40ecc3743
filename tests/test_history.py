"""feeds.history and the replay it serves: history at first paint, resume after a reconnect with no hole and no
duplicate, and a gap said out loud when the server no longer holds what was missed."""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from tornado.ioloop import IOLoop
from tornado.web import Application

from broker.node import RedisBroker
from broker.url import parse_broker_url
from feeds.codec import Format
from feeds.encoded import EncodedTick
from feeds.history import History, tick_cost
from feeds.hub import Hub
from feeds.producer import Producer
from feeds.stocks import StocksFeed
from feeds.system import SystemFeed
from feeds.tick import Tick
from handlers.endpoints.app import make_app
from handlers.settings import Settings
from tools.redisserver import RedisServer

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
    # Past the newest tick (a node that lags behind the one the client came from): nothing missed, no gap.
    assert (seqs(history.since(50, run=7)), history.since(50, run=7).gap) == ([], False)
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


def test_the_ring_holds_at_most_its_bytes() -> None:
    """Wide ticks fill a history by their bytes long before its count of ticks."""
    one = tick_cost(encoded(100))  # the widest of these ticks
    history = History(1000, 3600.0, max_bytes=10 * one + one // 2)
    for seq in range(1, 101):
        history.append(encoded(seq))
    assert seqs(history.last(99)) == list(range(91, 101))
    assert history.held_bytes == sum(tick_cost(tick) for tick in history.last(99)) <= history.max_bytes
    assert len(History(1000, 3600.0, max_bytes=one - 1).last(5)) == 0  # one tick too big to hold: none held


def test_what_a_held_tick_is_said_to_cost_is_what_it_costs() -> None:
    """What a history counts a tick to cost (tick_cost, summed against --history-bytes) is within a tenth of what
    the ticks really take (traced), for a narrow feed and for the widest a feed may be."""
    for fields in (("x",), tuple(f"field_{index:057d}" for index in range(256))):
        ticks = [
            EncodedTick.of(Tick("f", 1, seq, 1000.0 + seq, fields, tuple(float(seq + i) for i in range(len(fields)))))
            for seq in range(1, 501)
        ]
        history = History(10_000, 3600.0, max_bytes=1 << 40)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for tick in ticks:
            history.append(tick)
        grew = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        frames = sum(len(tick.json) + len(tick.binary) for tick in ticks)
        traced = frames + grew  # the frames were made before tracing began; the history's lists during it
        traced += sum(sys.getsizeof(tick) + sys.getsizeof(tick.json) - len(tick.json) for tick in ticks)
        traced += sum(sys.getsizeof(tick.binary) - len(tick.binary) for tick in ticks)
        assert abs(history.held_bytes - traced) <= traced / 10, (len(fields), history.held_bytes, traced)


def test_a_replay_is_read_a_chunk_at_a_time_oldest_first_each_tick_once() -> None:
    history = History(1000, 3600.0)
    for seq in range(100, 400):  # three digits each: frames of one size
        history.append(encoded(seq))
    replay = history.last(300)
    size = len(history.last(1)[0].json)
    assert replay.size(Format.JSON) == 300 * size
    chunks = []
    while chunk := replay.take(Format.JSON, 100 * size):
        chunks.append(chunk)
    assert [len(chunk) for chunk in chunks] == [100, 100, 100]
    assert [frame for chunk in chunks for frame in chunk] == [tick.json for tick in history.last(300)]
    assert (len(replay), replay.size(Format.JSON)) == (0, 0)
    history.append(encoded(400))  # live, not replayed
    assert replay.take(Format.JSON, 100 * size) == []


def test_a_replay_cut_to_a_budget_keeps_the_newest_and_says_gap() -> None:
    history = History(1000, 3600.0)
    for seq in range(100, 200):
        history.append(encoded(seq))
    size = len(history.last(1)[0].binary)
    replay = history.last(100)
    replay.newest_within(Format.BINARY, 10 * size + size // 2)
    assert (seqs(replay), replay.gap, replay.size(Format.BINARY)) == (list(range(190, 200)), True, 10 * size)
    within = history.since(194)
    within.newest_within(Format.BINARY, 10 * size)
    assert (seqs(within), within.gap) == ([195, 196, 197, 198, 199], False)
    nothing = history.last(100)
    nothing.newest_within(Format.BINARY, size - 1)
    assert (len(nothing), nothing.gap) == (0, True)


def test_ticks_the_history_lets_go_of_while_a_replay_waits_are_skipped() -> None:
    """A slow reader's replay does not keep old ticks alive: it jumps to what is still held, as a slow client's
    coalesced ticks do, and still ends where it was made to end."""
    history = History(50, 3600.0)
    for seq in range(1, 51):
        history.append(encoded(seq))
    replay = history.last(50)
    first = replay.take(Format.JSON, 1)
    for seq in range(51, 2001):  # enough for the history's list to be compacted under the replay too
        history.append(encoded(seq))
    assert replay.take(Format.JSON, 1 << 20) == []  # 2 to 50 are gone, and 51 on came after it was made
    assert len(first) == 1
    fresh = history.last(50)
    for seq in range(2001, 2021):
        history.append(encoded(seq))
    assert seqs(fresh) == list(range(1971, 2001))  # 1951 to 1970 are gone; it still ends at 2000


# --- over real connections -------------------------------------------------------------------------------------


@pytest.fixture
def hub() -> Hub:
    # A short ring, so that a test can outrun it.
    feeds = [SystemFeed(interval=SYSTEM_INTERVAL), StocksFeed(interval=STOCKS_INTERVAL, seed=STOCKS_SEED)]
    return Hub(feeds, history_ticks=HELD)


@pytest.fixture(params=["in-process", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    """Where the ticks come from: this process's producer, or a cluster's leader through a real Redis."""
    return str(request.param)


@pytest.fixture
def app(hub: Hub, io_loop: IOLoop, backend: str, request: pytest.FixtureRequest) -> Iterator[Application]:
    """The same history, ``since``, ``run`` and ``gap`` behaviour whichever the backend: in a cluster each node's
    history is kept in step with the feed's Redis stream, and served from memory as in one process."""
    stop: Callable[[], Awaitable[None]]
    if backend == "in-process":
        producer = Producer(hub.feeds, hub)
        producer.start()
        stop = producer.stop
    else:
        redis: RedisServer = request.getfixturevalue("redis_server")
        broker = RedisBroker(
            parse_broker_url(redis.url),
            hub,
            hub.feeds,
            node="node",
            leader_ttl=3.0,
            history_ticks=HELD,
            history_seconds=3600.0,
        )
        io_loop.run_sync(broker.start)
        stop = broker.stop
    yield make_app(hub, Settings(max_backlog_bytes=16 * 1024, history_ticks=HELD))
    io_loop.run_sync(stop)


async def held(hub: Hub, client: Client, count: int) -> None:
    """Wait (on a watching client's ticks) until the stocks feed's history holds ``count`` ticks."""
    while len(hub.history("stocks")) < count:
        await client.tick()


@pytest.mark.gen_test
@pytest.mark.parametrize("fmt", ["json", "binary"])
async def test_history_n_starts_with_the_last_n_ticks_then_goes_on_live(
    http_server: object, http_port: int, hub: Hub, backend: str, fmt: str
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
    http_server: object, http_port: int, hub: Hub, backend: str
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
    http_server: object, http_port: int, hub: Hub, backend: str
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
@pytest.mark.parametrize("backend", ["in-process"], indirect=True)
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
    http_server: object, http_port: int, backend: str, extra: dict[str, Any], message: str
) -> None:
    client = await Client.connect(http_port)
    error = await client.request({"op": "subscribe", "feed": "stocks", **extra, "id": 1})
    assert (error["code"], error["id"]) == ("invalid_message", 1)
    assert error["message"].startswith(message), error["message"]
    assert (await client.subscribe("stocks"))["op"] == "subscribed"  # nothing changed
    client.close()


def test_the_byte_counts_stay_right_after_the_ring_lets_go_of_old_ticks() -> None:
    """Dropped ticks are let go of in batches; what is held, and what a replay of it all takes, is counted from the
    first tick still held, before and after."""
    history = History(1500, 3600.0)
    for seq in range(1000, 9000):  # four digits each: frames of one size; the list is compacted more than once
        history.append(encoded(seq))
        assert history.held_bytes == sum(tick_cost(tick) for tick in history.last(1500))
    size = len(history.last(1)[0].json)
    assert history.last(1500).size(Format.JSON) == 1500 * size
    whole = history.last(1500)
    whole.newest_within(Format.JSON, 1500 * size)  # exactly what it takes: nothing cut
    assert (len(whole), whole.gap) == (1500, False)
    assert history.last(1500)[-1].seq == 8999 and history.last(1500)[0].seq == 7500
