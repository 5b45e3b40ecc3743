"""A cluster of real server processes (tools/harness.py) on a real redis-server: what clients see when a leader is
killed, paused or stopped, when a client moves to another node, and when ``--processes 2`` shares a port.

Each server is a node of its own (``--node-name``); clients are real WebSocket connections in JSON. Who leads a feed
is read from its lease in Redis, whose value starts with the holder's node name and pid. A process's state is seen
by polling something it shows (its lease, its log) with a deadline; a client's ticks wake `until` as they come.
The bounds are generous: each proves a mechanism (a lease that ran out, a hand-over), not a speed.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import orjson
import psutil
import pytest
from redis.asyncio import Redis
from tornado.ioloop import IOLoop
from tornado.websocket import WebSocketClientConnection, websocket_connect

from broker.scripts import Keys
from tools.harness import ROOT, Server
from tools.redisserver import RedisServer, free_port

from .waiting import changed, until

INTERVAL = 0.1  # stocks' seconds between ticks
TTL = 1.0  # --leader-ttl of the tests that wait for a lease to run out
FAST = ("--option", f"stocks.interval={INTERVAL}", "--option", "system.interval=0.5")
STOCKS = Keys.of("stocks")
# One step of a stocks price: its log return has this standard deviation (volatility 0.2 per hour by default).
STEP_DEVIATION = 0.2 * math.sqrt(INTERVAL / 3600)
# How long a process may take to show what a test waits for (seconds): far longer than any mechanism needs.
PROCESS_TIMEOUT = 10.0
POLL_SECONDS = 0.05
EXIT_TIMEOUT = 15.0
PASSWORD = "Sw0rdf1sh"


class Watcher:
    """A WebSocket client subscribed to ``stocks`` in JSON, keeping every tick it receives (and telling `until`)."""

    def __init__(self, connection: WebSocketClientConnection, subscribed: dict[str, Any]) -> None:
        self.connection = connection
        self.subscribed = subscribed
        self.ticks: list[dict[str, Any]] = []
        self.closed = False
        self._reading = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, server: Server, **request: Any) -> Watcher:
        """Connect to ``server`` and subscribe (``request`` adds keys to the subscribe: ``since``, ``run``)."""
        connection = await websocket_connect(f"ws://127.0.0.1:{server.port}/ws")
        connection.write_message(orjson.dumps({"op": "subscribe", "feed": "stocks", "format": "json", **request}))
        while True:
            frame = await connection.read_message()
            assert isinstance(frame, str), f"connection closed before subscribed: {connection.close_code}"
            message = orjson.loads(frame)
            if message["op"] != "status":
                assert message["op"] == "subscribed", message
                return cls(connection, message)

    async def _read(self) -> None:
        while (frame := await self.connection.read_message()) is not None:
            message = orjson.loads(frame)
            if message["op"] == "data":
                self.ticks.append(message)
                changed()
        self.closed = True
        changed()

    @property
    def last(self) -> tuple[int, int]:
        return self.ticks[-1]["run"], self.ticks[-1]["seq"]

    def seqs(self) -> list[int]:
        return [tick["seq"] for tick in self.ticks]

    async def close(self) -> None:
        if not self.closed:
            self.connection.close()
        await self._reading


def consecutive(ticks: list[dict[str, Any]]) -> None:
    """One run, and each seq the one after the last: no hole, no repeat."""
    assert ticks
    assert {tick["run"] for tick in ticks} == {ticks[0]["run"]}
    seqs = [tick["seq"] for tick in ticks]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


def by_seq(watcher: Watcher) -> dict[int, tuple[int, int, float, dict[str, float]]]:
    return {tick["seq"]: (tick["run"], tick["seq"], tick["ts"], tick["values"]) for tick in watcher.ticks}


def continuous(ticks: list[dict[str, Any]]) -> None:
    """Each price moves by less than 6 standard deviations of one step from one tick to the next."""
    for before, after in itertools.pairwise(ticks):
        for field, price in before["values"].items():
            if field.endswith(".price"):
                move = abs(math.log(after["values"][field] / price))
                assert move < 6 * STEP_DEVIATION, f"{field} moved {move:.4f} from seq {before['seq']} to {after['seq']}"


async def eventually(check: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = PROCESS_TIMEOUT) -> None:
    """Poll ``check`` (something a process shows) until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        await asyncio.sleep(POLL_SECONDS)


class Cluster:
    """The servers a test starts on one redis-server, and a client of that Redis to read the feed's keys."""

    def __init__(self, redis: RedisServer) -> None:
        self.redis_server = redis
        self.redis = Redis.from_url(redis.url)
        self.servers: list[Server] = []
        self.watchers: list[Watcher] = []

    def start(self, name: str, *options: str, ttl: float = TTL) -> Server:
        server = Server(
            "--broker", self.redis_server.url, "--node-name", name, "--leader-ttl", str(ttl), *FAST, *options
        )
        self.servers.append(server)
        server.start()
        return server

    async def watch(self, server: Server, **request: Any) -> Watcher:
        """A client of ``server`` subscribed to ``stocks`` (``request``: more keys of the subscribe)."""
        watcher = await Watcher.connect(server, **request)
        self.watchers.append(watcher)
        return watcher

    async def leader(self) -> int | None:
        """The pid of the process that holds the lease of ``stocks``, if any does."""
        token = await self.redis.get(STOCKS.lease)
        return None if token is None else int(token.split(b":")[1])

    async def leading(self, servers: list[Server]) -> Server:
        """Which of ``servers`` leads ``stocks``, once one does."""
        pids = {server.process.pid: server for server in servers if server.process is not None}
        await eventually(lambda: self._leads(pids), f"one of {list(pids)} leads stocks")
        pid = await self.leader()
        assert pid is not None
        return pids[pid]

    async def _leads(self, pids: dict[int, Server]) -> bool:
        return await self.leader() in pids

    async def stream_seqs(self) -> list[int]:
        """The seqs of the ticks in the feed's stream, from the entry ids ``SEQ-0``."""
        ids = [entry_id for entry_id, _ in await self.redis.xrange(STOCKS.ticks)]
        assert all(entry_id.endswith(b"-0") for entry_id in ids), ids
        return [int(entry_id.split(b"-")[0]) for entry_id in ids]

    async def close_clients(self) -> None:
        for watcher in self.watchers:
            await watcher.close()
        await self.redis.aclose()

    def close(self) -> None:
        for server in self.servers:
            if server.process is not None and server.process.poll() is None:
                server.process.send_signal(signal.SIGCONT)  # a paused server cannot act on the SIGTERM to come
        for server in self.servers:
            server.close()


@pytest.fixture
def cluster(redis_server: RedisServer, io_loop: IOLoop) -> Iterator[Cluster]:
    started = Cluster(redis_server)
    yield started
    try:
        io_loop.run_sync(started.close_clients)
    finally:
        started.close()


def terms(server: Server) -> list[tuple[int, int]]:
    """The run and first seq of each leadership of ``stocks`` that the server's log reports, oldest first."""
    return [
        (int(run), int(seq))
        for run, seq in re.findall(r"leading feed stocks: run (\d+), from seq (\d+)", server.logs())
    ]


def ticks_across(watcher: Watcher, moment: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The watcher's last tick stamped before ``moment`` (Unix seconds) and its first one after."""
    before = [tick for tick in watcher.ticks if tick["ts"] <= moment]
    after = [tick for tick in watcher.ticks if tick["ts"] > moment]
    assert before and after, (moment, watcher.ticks[0]["ts"], watcher.ticks[-1]["ts"])
    return before[-1], after[0]


@pytest.mark.parametrize("count", [2, 3])
@pytest.mark.gen_test(timeout=30)
async def test_clients_of_every_node_receive_the_same_ticks(cluster: Cluster, count: int) -> None:
    servers = [cluster.start(f"node-{number}") for number in range(1, count + 1)]
    watchers = [await cluster.watch(server) for server in servers]
    await until(lambda: all(watcher.ticks for watcher in watchers))
    target = max(watcher.ticks[0]["seq"] for watcher in watchers) + 20
    await until(lambda: all(watcher.ticks[-1]["seq"] >= target for watcher in watchers), timeout=PROCESS_TIMEOUT)
    await cluster.leading(servers)  # one of them leads: the others deliver what it appended
    common = set.intersection(*(set(watcher.seqs()) for watcher in watchers))
    assert len(common) >= 20
    for watcher in watchers:
        consecutive(watcher.ticks)
        assert {seq: tick for seq, tick in by_seq(watcher).items() if seq in common} == {
            seq: tick for seq, tick in by_seq(watchers[0]).items() if seq in common
        }


@pytest.mark.gen_test(timeout=30)
async def test_a_killed_leaders_feed_goes_on_from_another_node_within_two_ttls(cluster: Cluster) -> None:
    servers = [cluster.start("node-1"), cluster.start("node-2")]
    leader = await cluster.leading(servers)
    survivor = next(server for server in servers if server is not leader)
    watcher = await cluster.watch(survivor)
    await until(lambda: len(watcher.ticks) >= 5)
    leader.stop(signal.SIGKILL)
    killed_at = time.time()  # it is gone: every tick stamped since is another's
    await cluster.leading([survivor])
    await until(lambda: sum(tick["ts"] > killed_at for tick in watcher.ticks) >= 10, timeout=PROCESS_TIMEOUT)
    before, after = ticks_across(watcher, killed_at)
    assert after["ts"] - before["ts"] < 2 * TTL + INTERVAL
    assert (after["run"], after["seq"]) == (before["run"], before["seq"] + 1)
    assert terms(survivor)[-1] == (after["run"], after["seq"])
    consecutive(watcher.ticks)
    continuous(watcher.ticks)
    seqs = await cluster.stream_seqs()
    assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.gen_test(timeout=30)
async def test_a_leader_paused_past_its_lease_steps_down_when_it_wakes_and_no_seq_is_used_twice(
    cluster: Cluster,
) -> None:
    servers = [cluster.start("node-1"), cluster.start("node-2")]
    paused = await cluster.leading(servers)
    other = next(server for server in servers if server is not paused)
    watchers = [await cluster.watch(other), await cluster.watch(paused)]
    await until(lambda: all(len(watcher.ticks) >= 5 for watcher in watchers))
    assert paused.process is not None
    paused.process.send_signal(signal.SIGSTOP)
    try:
        await cluster.leading([other])  # the paused one's lease ran out, and the other took the feed
        taken = len(watchers[0].ticks)
        await until(lambda: len(watchers[0].ticks) >= taken + 10, timeout=PROCESS_TIMEOUT)
    finally:
        paused.process.send_signal(signal.SIGCONT)
    await eventually(lambda: "feed stocks: no longer leading it" in paused.logs(), "the woken leader steps down")
    resumed = watchers[1].ticks[-1]["seq"]
    await until(lambda: all(watcher.ticks[-1]["seq"] >= resumed + 10 for watcher in watchers), timeout=PROCESS_TIMEOUT)
    assert other.process is not None and await cluster.leader() == other.process.pid
    for watcher in watchers:
        consecutive(watcher.ticks)
    seqs = await cluster.stream_seqs()
    assert seqs == list(range(1, len(seqs) + 1))
    assert "unreachable" not in paused.logs()  # its own pause is not taken for a deaf subscription


@pytest.mark.gen_test(timeout=30)
async def test_a_stopped_leader_hands_its_feed_over_long_before_its_lease_would_run_out(cluster: Cluster) -> None:
    ttl = 30.0  # only the hand-over can explain a take-over within a sixth of it
    servers = [cluster.start("node-1", ttl=ttl), cluster.start("node-2", ttl=ttl)]
    leader = await cluster.leading(servers)
    successor = next(server for server in servers if server is not leader)
    watcher = await cluster.watch(successor)
    await until(lambda: len(watcher.ticks) >= 5)
    stopped_at = time.time()
    assert leader.stop() == 0
    await until(lambda: watcher.ticks[-1]["ts"] > stopped_at, timeout=ttl / 6)
    before, after = ticks_across(watcher, stopped_at)
    assert after["ts"] - before["ts"] < ttl / 6
    assert (after["run"], after["seq"]) == (before["run"], before["seq"] + 1)
    assert successor.process is not None and await cluster.leader() == successor.process.pid
    run, first = terms(successor)[-1]  # the seq after the last one the stopped leader appended
    assert run == before["run"] and first > before["seq"]
    assert "stocks" in next(line for line in leader.logs().splitlines() if "handed over " in line)
    consecutive(watcher.ticks)
    continuous(watcher.ticks)


@pytest.mark.gen_test(timeout=30)
async def test_a_client_that_moves_node_gets_every_missed_tick_exactly_once_then_live_ones(cluster: Cluster) -> None:
    first, second = cluster.start("node-1"), cluster.start("node-2")
    moving = await cluster.watch(first)
    await until(lambda: len(moving.ticks) >= 5)
    await moving.close()
    run, seq = moving.last
    observer = await cluster.watch(second)
    await until(lambda: bool(observer.ticks) and observer.ticks[-1]["seq"] >= seq + 10, timeout=PROCESS_TIMEOUT)
    moved = await cluster.watch(second, since=seq, run=run)
    assert moved.subscribed["gap"] is False and moved.subscribed["run"] == run
    assert moved.subscribed["replayed"] >= 10
    await until(lambda: len(moved.ticks) >= moved.subscribed["replayed"] + 10, timeout=PROCESS_TIMEOUT)
    assert moved.ticks[0]["seq"] == seq + 1
    consecutive(moving.ticks + moved.ticks)
    common = by_seq(observer).keys() & by_seq(moved).keys()
    assert {key: by_seq(moved)[key] for key in common} == {key: by_seq(observer)[key] for key in common}


@pytest.mark.gen_test(timeout=30)
async def test_two_processes_on_one_port_both_serve_clients(cluster: Cluster) -> None:
    server = cluster.start("node-1", "--processes", "2")
    assert server.process is not None
    children = psutil.Process(server.process.pid).children()
    assert len(children) == 2
    watchers = [await cluster.watch(server) for _ in range(24)]
    ours = {
        connection.laddr.port
        for connection in psutil.Process().net_connections("tcp")
        if connection.raddr and connection.raddr.port == server.port
    }
    assert len(ours) == 24
    held = {
        child.pid: {
            connection.raddr.port
            for connection in child.net_connections("tcp")
            if connection.laddr.port == server.port and connection.raddr and connection.raddr.port in ours
        }
        for child in children
    }
    assert all(held.values()), held  # each process holds some of the clients
    assert set.union(*held.values()) == ours
    await until(lambda: all(len(watcher.ticks) >= 3 for watcher in watchers), timeout=PROCESS_TIMEOUT)
    seen = by_seq(watchers[0])
    for watcher in watchers:
        consecutive(watcher.ticks)
        assert all(seen[seq] == tick for seq, tick in by_seq(watcher).items() if seq in seen)


def run_server(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``server.py`` to its exit: a start-up error."""
    return subprocess.run(
        [sys.executable, "server.py", "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture(scope="module")
def guarded_redis() -> Iterator[RedisServer]:
    """A redis-server that wants a password."""
    with RedisServer(password=PASSWORD) as server:
        yield server


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unreachable", "cannot use the broker redis://:***@127.0.0.1:{port}/0: "),
        ("wrong password", "the broker redis://:***@127.0.0.1:{port}/0 refused the password: "),
        ("no password", "the broker redis://127.0.0.1:{port}/0 wants a password: give it as redis://:PASSWORD@HOST:"),
    ],
)
def test_a_broker_that_cannot_be_used_at_start_stops_the_server_with_one_line(
    guarded_redis: RedisServer, case: str, expected: str
) -> None:
    port = free_port() if case == "unreachable" else guarded_redis.port  # nothing listens on a free port
    password = {"unreachable": PASSWORD, "wrong password": "Wr0ng" + PASSWORD, "no password": None}[case]
    result = run_server("--broker", f"redis://{'' if password is None else f':{password}@'}127.0.0.1:{port}/0")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("server.py: error: " + expected.format(port=port)), result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    assert result.stdout == ""
