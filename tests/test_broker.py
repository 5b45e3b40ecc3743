"""broker.node: nodes of a cluster in one process, each with its own hub, on a real redis-server started by the test.

Each node is a `RedisBroker` with a hub of its own, as each server process has; subscribers are sinks. What needs
real processes (SIGKILL, SIGSTOP, several processes on one port) is in tests/test_cluster.py.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Hashable, Iterator, Sequence

import orjson
import pytest
from redis.asyncio import Redis
from tornado.ioloop import IOLoop

from broker import wire
from broker.hosts import FORGET_AFTER, describe
from broker.node import BrokerError, RedisBroker
from broker.scripts import HOSTS_KEY, Keys
from broker.url import parse_broker_url
from feeds import Feed, Field
from feeds.codec import Format
from feeds.encoded import EncodedTick
from feeds.hub import Hub
from feeds.status import Health
from feeds.stocks import StocksFeed
from feeds.tick import Tick
from tools.redisserver import RedisServer

from .sinks import Sink, payload
from .waiting import changed, until

INTERVAL = 0.05
TTL = 0.6  # short leases: a lost leader is replaced within a second


class Watcher(Sink):
    """A subscriber that tells `until` of every frame, and reads the JSON ones."""

    def send(self, data: bytes, key: Hashable | None = None) -> None:
        super().send(data, key)
        changed()

    def send_many(self, frames: Sequence[tuple[bytes, Hashable]]) -> None:
        super().send_many(frames)
        changed()

    def ticks(self) -> list[dict[str, object]]:
        return [message for message in self.replies() if message["op"] == "data"]

    def seqs(self) -> list[tuple[int, int]]:
        return [(int(tick["run"]), int(tick["seq"])) for tick in self.ticks()]  # type: ignore[call-overload]

    def statuses(self) -> list[dict[str, object]]:
        return [message for message in self.replies() if message["op"] == "status"]


class Node:
    """A hub, its broker and a watcher subscribed to ``stocks``: one server process of the cluster."""

    def __init__(self, url: str, name: str, feeds: Sequence[Feed] | None = None, ttl: float = TTL) -> None:
        feeds = [StocksFeed(interval=INTERVAL, seed=7)] if feeds is None else feeds
        self.hub = Hub(feeds, history_ticks=1000)
        self.broker = RedisBroker(
            parse_broker_url(url),
            self.hub,
            feeds,
            node=name,
            leader_ttl=ttl,
            history_ticks=1000,
            history_seconds=3600.0,
        )
        self.watcher = Watcher()

    async def start(self) -> Node:
        await self.broker.start()
        if "stocks" in [feed.name for feed in self.hub.feeds]:
            self.hub.subscribe("stocks", self.watcher, Format.JSON)
        return self

    @property
    def leads(self) -> bool:
        return bool(self.broker.leaderships)

    async def crash(self) -> None:
        """Stop as a killed process does: no hand-over, the leases left to run out."""
        self.broker._stopping = True
        for task in [*self.broker._loops]:
            task.cancel()
        await asyncio.gather(*self.broker._loops, return_exceptions=True)
        for name in list(self.broker._terms):
            self.broker._end(self.broker._terms[name])
            await self.broker.producer.remove(name)
        await self.broker._redis.aclose()


@pytest.fixture
def nodes(io_loop: IOLoop) -> Iterator[list[Node]]:
    """The nodes a test starts, stopped after it (those it did not stop or crash itself)."""
    started: list[Node] = []
    yield started

    async def stop() -> None:
        for node in started:
            if not node.broker._stopping:
                await node.broker.stop()

    try:
        io_loop.run_sync(stop, timeout=8)
    except Exception:
        for task in asyncio.all_tasks(io_loop.asyncio_loop):
            task.print_stack(limit=4)
        raise


async def start(nodes: list[Node], node: Node) -> Node:
    nodes.append(await node.start())
    return node


def prices(tick: dict[str, object]) -> dict[str, float]:
    values = tick["values"]
    assert isinstance(values, dict)
    return {field: value for field, value in values.items() if field.endswith(".price")}


def continuous(before: dict[str, object], after: dict[str, object]) -> bool:
    """Whether each price moved by less than 6 standard deviations of one step (20% a year... an hour, here)."""
    step = 0.2 * math.sqrt(INTERVAL / 3600) * 6 * (int(after["seq"]) - int(before["seq"]))  # type: ignore[call-overload]
    return all(abs(math.log(prices(after)[name] / price)) < step for name, price in prices(before).items())


@pytest.mark.gen_test(timeout=20)
async def test_every_node_delivers_the_same_ticks_sampled_and_encoded_once(
    redis_server: RedisServer, nodes: list[Node]
) -> None:
    cluster = [await start(nodes, Node(redis_server.url, f"n{i}")) for i in range(3)]
    await until(lambda: all(len(node.watcher.ticks()) >= 10 for node in cluster))
    assert sum(node.leads for node in cluster) == 1
    frames = [
        {message["seq"]: data for data, _ in node.watcher.messages if "seq" in (message := orjson.loads(payload(data)))}
        for node in cluster
    ]
    common = set(frames[0]) & set(frames[1]) & set(frames[2])
    assert len(common) >= 5
    for seq in common:
        assert frames[0][seq] == frames[1][seq] == frames[2][seq]  # the leader's bytes, as it encoded them
    for node in cluster:
        seqs = [seq for _, seq in node.watcher.seqs()]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no hole, no repeat
        assert len({run for run, _ in node.watcher.seqs()}) == 1


@pytest.mark.gen_test(timeout=20)
async def test_a_node_that_stops_hands_its_feeds_over_and_they_go_on_where_they_were(
    redis_server: RedisServer, nodes: list[Node]
) -> None:
    """With a lease of a minute, only the hand-over lets the other node take the feed within the test's wait; it
    continues the run and the seq, and the prices from where they were."""
    first = await start(nodes, Node(redis_server.url, "a", ttl=60.0))
    await until(lambda: len(first.watcher.ticks()) >= 3)
    second = await start(nodes, Node(redis_server.url, "b", ttl=60.0))
    await until(lambda: len(second.watcher.ticks()) >= 2)
    await first.broker.stop()
    last = first.watcher.ticks()[-1]
    await until(lambda: second.leads and second.watcher.ticks()[-1]["seq"] > last["seq"])  # type: ignore[operator]
    ticks = second.watcher.ticks()
    seqs = [tick["seq"] for tick in ticks]
    assert seqs == list(range(int(seqs[0]), int(seqs[0]) + len(seqs)))  # type: ignore[call-overload]
    assert {tick["run"] for tick in ticks} == {last["run"]}
    after = next(tick for tick in ticks if tick["seq"] == int(last["seq"]) + 1)  # type: ignore[call-overload]
    assert continuous(last, after)


@pytest.mark.gen_test(timeout=20)
async def test_a_crashed_leaders_feed_is_taken_over_when_its_lease_runs_out(
    redis_server: RedisServer, nodes: list[Node]
) -> None:
    first = await start(nodes, Node(redis_server.url, "a"))
    await until(lambda: first.leads and len(first.watcher.ticks()) >= 3)
    second = await start(nodes, Node(redis_server.url, "b"))
    await until(lambda: len(second.watcher.ticks()) >= 2)
    await first.crash()
    last = second.watcher.ticks()[-1]
    await until(lambda: second.leads and second.watcher.ticks()[-1]["seq"] > last["seq"])  # type: ignore[operator]
    seqs = [seq for _, seq in second.watcher.seqs()]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


@pytest.mark.gen_test(timeout=20)
async def test_a_leader_whose_lease_passed_to_another_has_its_appends_refused_and_steps_down(
    redis_server: RedisServer, nodes: list[Node]
) -> None:
    """Fencing: the lease check is in the append itself, so a deposed leader cannot write a seq, not even one tick
    before it notices (here the lease is taken from under it, as when it was paused past its TTL)."""
    node = await start(nodes, Node(redis_server.url, "a", ttl=60.0))
    await until(lambda: node.leads and len(node.watcher.ticks()) >= 3)
    redis = Redis.from_url(redis_server.url)
    await redis.set(Keys.of("stocks").lease, "another-process", px=60_000)
    await until(lambda: not node.leads)
    assert node.broker.refused_appends == 1
    entries = await redis.xrange(Keys.of("stocks").ticks)
    seqs = [int(entry_id.split(b"-")[0]) for entry_id, _ in entries]
    assert seqs == list(range(1, len(seqs) + 1))  # every seq once
    assert int(await redis.hget(Keys.of("stocks").meta, "seq")) == seqs[-1]  # type: ignore[arg-type]
    await redis.aclose()


@pytest.mark.gen_test(timeout=20)
async def test_a_tick_is_appended_with_one_script_call_and_no_question_before_it(
    redis_server: RedisServer, nodes: list[Node]
) -> None:
    """A tick on its own is one EVALSHA: not a pipeline, which asks Redis first whether its scripts exist (SCRIPT
    EXISTS, a round trip more a tick)."""
    node = await start(nodes, Node(redis_server.url, "a"))
    await until(lambda: len(node.watcher.ticks()) >= 3)
    redis = Redis.from_url(redis_server.url)

    async def asked() -> int:
        stats = await redis.info("commandstats")
        return int(stats.get("cmdstat_script|exists", {}).get("calls", 0))

    before, first = await asked(), node.watcher.seqs()[-1][1]
    await until(lambda: node.watcher.seqs()[-1][1] >= first + 10)
    assert await asked() - before <= 2  # a tick and a status that come together still go in one pipeline
    await redis.aclose()


@pytest.mark.gen_test(timeout=20)
async def test_a_tick_lost_on_the_way_is_filled_from_the_stream_before_the_next_is_delivered(
    redis_server: RedisServer, nodes: list[Node]
) -> None:
    """The test is the leader here: it appends seqs 1 to 5 through the fenced script, and publishes seq 4 on a
    channel nobody hears, as pub/sub loses a message while a subscription reconnects."""
    node = await start(nodes, Node(redis_server.url, "a", feeds=[]))
    node.hub.add_feed(StocksFeed(interval=INTERVAL))
    node.broker._follow("stocks")
    node.hub.subscribe("stocks", node.watcher, Format.JSON)
    leader = Node(redis_server.url, "leader")
    broker = leader.broker
    keys = Keys.of("stocks")
    taken = await broker._acquire(keys=[keys.lease, keys.meta, keys.ticks], args=["me", 60_000, 99])
    assert taken == [b"99", b"0", None]
    for seq in range(1, 6):
        tick = EncodedTick.of(Tick("stocks", 99, seq, 1.0 + seq, ("x",), (float(seq),)))
        channel = keys.live if seq != 4 else "nowhere"
        reply = await broker._append(
            keys=[keys.lease, keys.meta, keys.ticks], args=["me", 99, seq, wire.tick_message(tick), 100, channel]
        )
        assert reply == 1
    await until(lambda: len(node.watcher.ticks()) == 5)
    assert node.watcher.seqs() == [(99, seq) for seq in range(1, 6)]
    assert node.broker.holes_filled == 1
    await broker._redis.aclose()


@pytest.mark.gen_test(timeout=30)
async def test_while_redis_is_down_clients_are_told_and_when_it_is_back_with_its_data_the_run_goes_on(
    nodes: list[Node],
) -> None:
    with RedisServer(persist=True) as redis_server:
        node = await start(nodes, Node(redis_server.url, "a"))
        await until(lambda: len(node.watcher.ticks()) >= 3)
        redis_server.stop()
        await until(lambda: any(status["status"] == "stale" for status in node.watcher.statuses()))
        assert node.broker.problems() and "unreachable" in node.broker.problems()[0]
        assert node.hub.subscribers("stocks") == [node.watcher]  # the client stays
        before = node.watcher.seqs()[-1]
        redis_server.start()
        await until(lambda: node.watcher.seqs()[-1][1] > before[1] + 2)
        assert not node.broker.problems()
        assert node.hub.status("stocks").health is Health.OK
        after = [tick for tick in node.watcher.seqs() if tick > before]
        assert after == [(before[0], seq) for seq in range(before[1] + 1, before[1] + 1 + len(after))]
        await node.broker.stop()


@pytest.mark.gen_test(timeout=30)
async def test_when_redis_comes_back_empty_a_new_run_starts(redis_server: RedisServer, nodes: list[Node]) -> None:
    node = await start(nodes, Node(redis_server.url, "a"))
    await until(lambda: len(node.watcher.ticks()) >= 3)
    old_run = node.watcher.seqs()[-1][0]
    redis_server.restart_empty()
    await until(lambda: node.watcher.seqs()[-1][0] != old_run)
    new = [seq for run, seq in node.watcher.seqs() if run != old_run]
    assert new == list(range(1, len(new) + 1))
    assert node.hub.history("stocks").since(3, old_run).gap


@pytest.mark.gen_test(timeout=20)
async def test_a_node_started_later_holds_the_feeds_history_at_once_and_the_same_run(
    redis_server: RedisServer, nodes: list[Node]
) -> None:
    first = await start(nodes, Node(redis_server.url, "a"))
    await until(lambda: len(first.watcher.ticks()) >= 10)
    later = await start(nodes, Node(redis_server.url, "b"))
    history = later.hub.history("stocks")
    assert len(history) >= 10  # filled from the stream before any live tick
    assert history.run == first.watcher.seqs()[0][0]


class Machine(Feed):
    name = "machine"
    interval = INTERVAL
    per_host = True
    fields = (Field("load", "%"),)

    def sample(self) -> dict[str, float]:
        return {"load": 1.0}


def machine(node: str) -> Feed:
    named = type("Machine", (Machine,), {"name": f"machine@{node}"})
    return named()


@pytest.mark.gen_test(timeout=20)
async def test_each_machine_publishes_its_own_per_host_feed_and_every_node_serves_all_of_them(
    redis_server: RedisServer, nodes: list[Node]
) -> None:
    a = await start(nodes, Node(redis_server.url, "a", feeds=[machine("a")]))
    b = await start(nodes, Node(redis_server.url, "b", feeds=[machine("b")]))
    await until(lambda: {feed.name for feed in a.hub.feeds} == {"machine@a", "machine@b"})
    assert {feed.name for feed in b.hub.feeds} == {"machine@a", "machine@b"}
    await until(lambda: a.broker.leaderships == ["machine@a"] and b.broker.leaderships == ["machine@b"])
    watcher = Watcher()
    a.hub.subscribe("machine@b", watcher, Format.JSON)
    await until(lambda: len(watcher.ticks()) >= 2)


@pytest.mark.gen_test(timeout=20)
async def test_a_node_with_other_feed_settings_says_so_in_one_line(
    redis_server: RedisServer, nodes: list[Node], caplog: pytest.LogCaptureFixture
) -> None:
    await start(nodes, Node(redis_server.url, "a"))
    with caplog.at_level(logging.WARNING, "dashboard.broker"):
        await start(nodes, Node(redis_server.url, "b", feeds=[StocksFeed(interval=0.5, seed=7)]))
    lines = [record.getMessage() for record in caplog.records if "differ" in record.getMessage()]
    assert len(lines) == 1
    assert "stocks: other settings (interval 0.5 here, 0.05 recorded)" in lines[0]


@pytest.mark.gen_test(timeout=20)
async def test_the_run_outlives_every_node(redis_server: RedisServer, nodes: list[Node]) -> None:
    """The whole cluster stops and starts again: the feed goes on with the same run, the next seq, and a client's
    ``since`` from before is served without a gap."""
    first = await start(nodes, Node(redis_server.url, "a"))
    await until(lambda: len(first.watcher.ticks()) >= 3)
    await first.broker.stop()
    run, seq = first.watcher.seqs()[-1]
    again = await start(nodes, Node(redis_server.url, "b"))
    await until(lambda: len(again.watcher.ticks()) >= 2)
    assert again.watcher.seqs()[0][0] == run
    replay = again.hub.history("stocks").since(seq - 2, run)
    assert not replay.gap
    assert [tick.seq for tick in replay][:2] == [seq - 1, seq]


class DeafeningProxy:
    """A TCP proxy to Redis that can go deaf: `deafen` keeps the subscriptions open through it but passes nothing
    more from Redis to them, as a subscription left behind by a failover does (the connection up, nothing heard)."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._deaf: set[asyncio.StreamWriter] = set()
        self._subscribers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    def deafen(self) -> None:
        self._deaf |= self._subscribers

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._subscribers:
            writer.close()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._port)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, to_client: bool) -> None:
            while data := await source.read(65536):
                if not to_client and b"SUBSCRIBE" in data:
                    self._subscribers.add(writer)
                if to_client and writer in self._deaf:
                    continue
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(
            pump(reader, upstream_writer, False), pump(upstream_reader, writer, True), return_exceptions=True
        )


@pytest.mark.gen_test(timeout=20)
async def test_a_subscription_that_hears_nothing_is_made_again_and_what_it_missed_is_filled(
    redis_server: RedisServer, nodes: list[Node]
) -> None:
    leader = await start(nodes, Node(redis_server.url, "leader"))
    proxy = DeafeningProxy(redis_server.port)
    follower = await start(nodes, Node(await proxy.start(), "follower", feeds=[StocksFeed(interval=INTERVAL, seed=7)]))
    await until(lambda: len(follower.watcher.ticks()) >= 3 and leader.leads)
    proxy.deafen()
    silent_from = follower.watcher.seqs()[-1]
    await until(lambda: follower.broker.reconnects >= 1 and follower.watcher.seqs()[-1][1] > silent_from[1] + 5)
    seqs = [seq for _, seq in follower.watcher.seqs()]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # what the deaf spell missed came from the stream
    await follower.broker.stop()
    await proxy.close()


@pytest.mark.gen_test(timeout=20)
async def test_a_machine_not_heard_of_for_an_hour_is_forgotten(redis_server: RedisServer, nodes: list[Node]) -> None:
    redis = Redis.from_url(redis_server.url)
    old = describe(machine("gone"), time.time() - FORGET_AFTER - 60)
    recent = describe(machine("away"), time.time() - 60)
    await redis.hset(HOSTS_KEY, mapping={"machine@gone": old, "machine@away": recent})
    node = await start(nodes, Node(redis_server.url, "here", feeds=[machine("here")]))
    assert {feed.name for feed in node.hub.feeds} == {"machine@here", "machine@away"}
    assert set(await redis.hkeys(HOSTS_KEY)) == {b"machine@here", b"machine@away"}
    await redis.aclose()


# Redis forgets the feed's last four appends, as a crash without `appendfsync always` does.
FORGET_LAST_FOUR = """
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq')) - 4
redis.call('HSET', KEYS[1], 'seq', seq)
for _, entry in ipairs(redis.call('XRANGE', KEYS[2], (seq + 1) .. '-0', '+')) do
  redis.call('XDEL', KEYS[2], entry[1])
end
return seq
"""


@pytest.mark.gen_test(timeout=20)
async def test_when_redis_lost_ticks_a_node_delivered_a_new_run_starts_rather_than_reuse_their_seqs(
    redis_server: RedisServer, nodes: list[Node]
) -> None:
    node = await start(nodes, Node(redis_server.url, "a", ttl=60.0))  # only a released lease lets it go on soon
    await until(lambda: len(node.watcher.ticks()) >= 8)
    redis = Redis.from_url(redis_server.url)
    keys = Keys.of("stocks")
    await redis.eval(FORGET_LAST_FOUR, 2, keys.meta, keys.ticks)  # type: ignore[misc]
    old_run = node.watcher.seqs()[0][0]
    await until(lambda: node.watcher.seqs()[-1][0] != old_run and node.watcher.seqs()[-1][1] >= 3)
    seen = node.watcher.seqs()
    assert len(seen) == len(set(seen))  # no (run, seq) twice
    old = [seq for run, seq in seen if run == old_run]
    assert old == list(range(1, len(old) + 1))
    new = [seq for run, seq in seen if run != old_run]
    assert new == list(range(1, len(new) + 1))
    await redis.aclose()


@pytest.mark.gen_test(timeout=20)
async def test_a_redis_that_wants_a_password_the_url_lacks_is_a_start_up_error_saying_so() -> None:
    with RedisServer(password="Sw0rdf1sh") as redis:
        for url, expected in [
            (f"redis://127.0.0.1:{redis.port}/0", "wants a password: give it as redis://:PASSWORD@HOST:PORT/DB$"),
            (redis.url.replace("Sw0rdf1sh", "wrong"), "refused the password: "),
        ]:
            node = Node(url, "n1")
            with pytest.raises(BrokerError, match=expected) as raised:
                await node.broker.start()
            assert "Sw0rdf1sh" not in str(raised.value) and "wrong" not in str(raised.value)


@pytest.mark.gen_test(timeout=20)
async def test_an_unreadable_entry_in_a_hole_is_skipped_and_the_node_goes_on_listening(
    redis_server: RedisServer, nodes: list[Node]
) -> None:
    """A stream entry this version cannot read (a newer node's, in a rolling upgrade) is skipped like a lost tick."""
    node = await start(nodes, Node(redis_server.url, "a", feeds=[]))
    node.hub.add_feed(StocksFeed(interval=INTERVAL))
    node.broker._follow("stocks")
    node.hub.subscribe("stocks", node.watcher, Format.JSON)
    leader = Node(redis_server.url, "leader").broker
    keys = Keys.of("stocks")
    await leader._acquire(keys=[keys.lease, keys.meta, keys.ticks], args=["me", 60_000, 99])
    for seq in range(1, 8):
        if seq == 4:  # unreadable, and never published: a hole whose fill meets it
            await leader._redis.xadd(keys.ticks, {"d": b"?from the future"}, id="4-0")
            await leader._redis.hset(keys.meta, "seq", 4)
            continue
        tick = EncodedTick.of(Tick("stocks", 99, seq, 1.0 + seq, ("x",), (float(seq),)))
        reply = await leader._append(
            keys=[keys.lease, keys.meta, keys.ticks], args=["me", 99, seq, wire.tick_message(tick), 100, keys.live]
        )
        assert reply == 1
    await until(lambda: len(node.watcher.ticks()) == 6)
    assert [seq for _, seq in node.watcher.seqs()] == [1, 2, 3, 5, 6, 7]
    assert node.broker._loops and all(not task.done() for task in node.broker._loops)
    await leader._redis.aclose()


class Other(Feed):
    name = "other"
    interval = INTERVAL
    fields = (Field("x"),)

    def sample(self) -> dict[str, float]:
        return {"x": 1.0}


@pytest.mark.gen_test(timeout=20)
async def test_a_feed_whose_keys_redis_refuses_does_not_stop_the_others(
    redis_server: RedisServer, nodes: list[Node], caplog: pytest.LogCaptureFixture
) -> None:
    redis = Redis.from_url(redis_server.url)
    await redis.set(Keys.of("other").meta, "not a hash")  # every read of it: WRONGTYPE
    node = await start(nodes, Node(redis_server.url, "a", feeds=[StocksFeed(interval=INTERVAL, seed=7), Other()]))
    await until(lambda: len(node.watcher.ticks()) >= 5 and node.broker.leaderships == ["stocks"])
    assert not node.broker.problems()
    assert node.hub.status("stocks").health is Health.OK
    assert any("WRONGTYPE" in record.getMessage() for record in caplog.records)
    await redis.aclose()
