"""``make bench``'s cluster part (issue 19): the server as a node of a cluster on Redis, measured as bench/run.py
measures one process, and its failovers.

Each run has a private ``redis-server`` of its own (`tools.redisserver`, on a free port, keeping nothing on disk),
pinned to core 0 with the server (``taskset -a``, every thread of it), so that core 1 is the load generator's alone.
The server is bench/run.py's ``ours`` (the ``stocks`` feed with 20 symbols at 20 Hz, JSON) with ``--broker`` on that
Redis and ``--processes 1`` or ``2``; its CPU is every server process's together (the parent and its children). It
prints three tables:

1. **Redis's work per tick**, at 100 and 1,000 clients: redis-server's own CPU time over the measurement window and
   the commands it ran (``INFO commandstats``, the commands of its scripts included; the bench's own two left out),
   each divided by the ticks appended in the window (the feed's ``seq`` in Redis, before and after); and how many
   subscribe to the feed's channel. The CPU time is the one redis-server reports (``INFO cpu``: getrusage, all its
   threads, to the microsecond); psutil's reading of its pid is printed beside it, but counts in clock ticks of
   10 ms, a few of them in a window of 100 ticks.
2. **The broker path's cost**: delivered messages, latency from each tick's ``ts`` to its receipt (p50, p99) and
   server CPU per delivered message, in one process without ``--broker`` beside ``--broker`` with one and two
   server processes, at 100 and 1,000 clients. Every figure is the median of ``--repeat`` rounds, each setup once a
   round in a rotating order, as in bench/run.py (delivered and gaps: the worst).
3. **Failover**: two nodes (``server.py --broker``, one process each, ``--leader-ttl`` at its default), clients
   subscribed on the one that does not lead ``stocks``; the leader (the pid in the feed's lease) is sent SIGKILL or
   SIGTERM, and the clients' ticks show the gap: the largest step of ``ts`` between two ticks, less one interval,
   and the longest wait between two receipts. A new node then joins, the clients move to it, and the next trial
   stops the leader that took over. The clients run in this process, on core 1.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import psutil
import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from bench.run import LOADGEN_CORE, SERVER_CORE, Result, Scenario, check, cpu_seconds, run, running_server
from broker.scripts import Keys
from handlers.settings import LEADER_TTL
from tools.redisserver import RedisServer

HZ = 20.0
FEED = "stocks"
REDIS_CORE = SERVER_CORE
# Left out of Redis's command counts: the bench's own HGET of the seq and INFO, once each between two readings.
OWN_COMMANDS = Counter({"hget": 1, "info": 1})
FAILOVER_CLIENTS = 20
BEFORE_TICKS = 20  # ticks every client has before the leader is stopped
AFTER_TICKS = 20  # ticks every client has from the new leader before a trial ends
START_TIMEOUT = 30.0
IDLE_SECONDS = 3.0
US = 1e6


@dataclass(frozen=True)
class Setup:
    label: str
    processes: int
    broker: bool = True

    def extra(self, url: str) -> tuple[str, ...]:
        return ("--broker", url, "--processes", str(self.processes)) if self.broker else ()


SETUPS = (Setup("in-process", 1, broker=False), Setup("broker", 1), Setup("broker", 2))


@dataclass(frozen=True)
class RedisWork:
    """What redis-server did over a measurement window."""

    ticks: int  # appended
    cpu: float  # seconds of redis-server's CPU, all threads, as it reports it (getrusage, in microseconds)
    psutil_cpu: float  # the same as psutil reads it for its pid (/proc, in steps of a clock tick: 10 ms)
    seconds: float
    calls: Counter[str]  # commands run, by name
    subscribers: int  # of the feed's channel

    @property
    def cpu_per_tick(self) -> float:
        return self.cpu / self.ticks if self.ticks else float("nan")

    @property
    def psutil_cpu_per_tick(self) -> float:
        return self.psutil_cpu / self.ticks if self.ticks else float("nan")

    def per_tick(self, *commands: str) -> float:
        counted = sum(self.calls[command] for command in commands) if commands else sum(self.calls.values())
        return counted / self.ticks if self.ticks else float("nan")


def own_cpu(info: Any) -> float:
    """redis-server's CPU seconds as its ``INFO cpu`` reports them (getrusage: all its threads)."""
    return float(info["used_cpu_user"] + info["used_cpu_sys"])


class RedisProbe:
    """Reads redis-server's CPU, its command counts and the feed's seq as the measurement window opens and closes."""

    def __init__(self, server: RedisServer) -> None:
        self.process = psutil.Process(server.pid)
        self.client = redis.Redis(port=server.port)
        self.work: RedisWork | None = None

    def _reading(self) -> tuple[float, float, float, int, Counter[str]]:
        seq: Any = self.client.hget(Keys.of(FEED).meta, "seq")
        info: Any = self.client.info("cpu", "commandstats")
        calls = Counter(
            {
                name.removeprefix("cmdstat_"): int(entry["calls"])
                for name, entry in info.items()
                if name.startswith("cmdstat_")
            }
        )
        return time.perf_counter(), own_cpu(info), cpu_seconds(self.process), int(seq or 0), calls

    @contextmanager
    def window(self) -> Iterator[None]:
        wall, cpu, psutil_cpu, seq, calls = self._reading()
        yield
        wall_after, cpu_after, psutil_cpu_after, seq_after, calls_after = self._reading()
        subscribers: Any = self.client.pubsub_numsub(Keys.of(FEED).live)
        self.work = RedisWork(
            ticks=seq_after - seq,
            cpu=cpu_after - cpu,
            psutil_cpu=psutil_cpu_after - psutil_cpu,
            seconds=wall_after - wall,
            calls=calls_after - calls - OWN_COMMANDS,
            subscribers=int(subscribers[0][1]),
        )


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server, every thread of it on `REDIS_CORE`."""
    with RedisServer() as server:
        if (os.cpu_count() or 1) >= 2:
            subprocess.run(
                ["taskset", "-a", "-p", "-c", str(REDIS_CORE), str(server.pid)], check=True, capture_output=True
            )
        yield server


@dataclass
class Measured:
    setup: Setup
    result: Result
    redis: RedisWork | None = None


def idle_redis(seconds: float) -> float:
    """redis-server's share of a core with nobody connected but this reader, over ``seconds``: its own timers."""
    with redis_server() as server:
        client = redis.Redis(port=server.port)
        cpu, wall = own_cpu(client.info("cpu")), time.perf_counter()
        time.sleep(seconds)  # the window itself: nothing happens in it to wait for
        share = (own_cpu(client.info("cpu")) - cpu) / (time.perf_counter() - wall)
        client.close()
    return share


def measure(setup: Setup, scenario: Scenario) -> Measured:
    if not setup.broker:
        return Measured(setup, run("ours", scenario))
    with redis_server() as server:
        probe = RedisProbe(server)
        result = run("ours", scenario, setup.extra(server.url), probe.window)
        probe.client.close()
    return Measured(setup, result, probe.work)


@dataclass
class Row:
    """One setup at one number of clients over all rounds: the median of each figure, the worst delivery."""

    setup: Setup
    scenario: Scenario
    runs: list[Measured] = field(default_factory=list)

    def median(self, figure: Callable[[Measured], float]) -> float:
        return float(statistics.median(figure(measured) for measured in self.runs))

    def redis_median(self, figure: Callable[[RedisWork], float]) -> float:
        return float(statistics.median(figure(measured.redis) for measured in self.runs if measured.redis))

    @property
    def rate(self) -> float:
        return self.median(lambda m: m.result.rate)

    @property
    def cpu_per_message(self) -> float:
        """Seconds of server CPU (every process) per delivered message."""
        return self.median(lambda m: 1 / m.result.per_cpu_second if m.result.per_cpu_second else float("nan"))

    def delivery(self) -> tuple[float, int]:
        worst = min(self.runs, key=lambda m: m.result.messages / m.result.expected if m.result.expected else 0.0)
        delivered = worst.result.messages / worst.result.expected if worst.result.expected else 0.0
        return delivered, max(m.result.gaps for m in self.runs)


def rounds(clients: int, duration: float, repeat: int) -> list[Row]:
    scenario = Scenario(clients, HZ, "json", duration=duration)
    rows = [Row(setup, scenario) for setup in SETUPS]
    for round_number in range(repeat):
        shift = round_number % len(rows)
        for row in rows[shift:] + rows[:shift]:
            measured = measure(row.setup, scenario)
            row.runs.append(measured)
            redis_part = (
                f", Redis {US * measured.redis.cpu_per_tick:.0f} µs and {measured.redis.per_tick():.2f} commands a tick"
                if measured.redis
                else ""
            )
            print(
                f"# round {round_number + 1} of {repeat}: {describe(row.setup)}, {clients:,} clients: "
                f"p99 {1000 * measured.result.latency_p99:.1f} ms, "
                f"{US / measured.result.per_cpu_second if measured.result.per_cpu_second else 0:.1f} µs of server CPU "
                f"a message{redis_part}",
                file=sys.stderr,
                flush=True,
            )
    return rows


def describe(setup: Setup) -> str:
    return f"{setup.label}, {setup.processes} process{'es' if setup.processes > 1 else ''}"


REDIS_HEADER = (
    "| clients | server processes | ticks appended | Redis CPU per tick µs | by psutil µs | Redis CPU "
    "| commands per tick | EVALSHA per tick | PUBLISH per tick | XADD per tick | subscribers of the feed's channel |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def redis_row(row: Row) -> str:
    ticks = row.redis_median(lambda work: work.ticks)
    share = row.redis_median(lambda work: work.cpu / work.seconds)
    return (
        f"| {row.scenario.clients:,} | {row.setup.processes} | {ticks:,.0f} "
        f"| {US * row.redis_median(lambda work: work.cpu_per_tick):.0f} "
        f"| {US * row.redis_median(lambda work: work.psutil_cpu_per_tick):.0f} | {100 * share:.1f}% "
        f"| {row.redis_median(lambda work: work.per_tick()):.2f} "
        f"| {row.redis_median(lambda work: work.per_tick('evalsha')):.2f} "
        f"| {row.redis_median(lambda work: work.per_tick('publish')):.2f} "
        f"| {row.redis_median(lambda work: work.per_tick('xadd')):.2f} "
        f"| {row.redis_median(lambda work: work.subscribers):.0f} |"
    )


PATH_HEADER = (
    "| setup | server processes | clients | Hz | delivered msg/s | delivered | gaps | p50 ms | p99 ms "
    "| server CPU µs per msg | msg per server CPU-s | x in-process | server CPU | Redis CPU | loadgen CPU |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def path_row(row: Row, reference: Row) -> str:
    delivered, gaps = row.delivery()
    per_message = row.cpu_per_message
    redis_share = f"{100 * row.redis_median(lambda work: work.cpu / work.seconds):.1f}%" if row.setup.broker else ""
    return (
        f"| {row.setup.label} | {row.setup.processes} | {row.scenario.clients:,} | {row.scenario.hz:g} "
        f"| {row.rate:,.0f} | {100 * delivered:.1f}% | {gaps} "
        f"| {1000 * row.median(lambda m: m.result.latency_p50):.1f} "
        f"| {1000 * row.median(lambda m: m.result.latency_p99):.1f} "
        f"| {US * per_message:.1f} | {1 / per_message:,.0f} | {reference.cpu_per_message / per_message:.2f} "
        f"| {100 * row.median(lambda m: m.result.server_cpu):.0f}% | {redis_share} "
        f"| {100 * row.median(lambda m: m.result.loadgen_cpu):.0f}% |"
    )


def summary(rows: list[Row]) -> list[str]:
    lines = []
    by = {(row.setup, row.scenario.clients): row for row in rows}
    counts = sorted({row.scenario.clients for row in rows})
    one = SETUPS[1]
    if len(counts) >= 2:
        low, high = by[one, counts[0]], by[one, counts[-1]]
        commands = (
            low.redis_median(lambda work: work.per_tick()),
            high.redis_median(lambda work: work.per_tick()),
        )
        cpu = (
            low.redis_median(lambda work: work.cpu_per_tick),
            high.redis_median(lambda work: work.cpu_per_tick),
        )
        lines.append(
            check(
                f"Redis's commands per tick the same at {counts[0]:,} and {counts[-1]:,} clients",
                abs(commands[1] - commands[0]) < 0.1 * commands[0],
                f"{commands[0]:.2f} and {commands[1]:.2f}; Redis CPU per tick {US * cpu[0]:.0f} and "
                f"{US * cpu[1]:.0f} µs ({cpu[1] / cpu[0]:.2f} x)",
            )
        )
    clients = counts[-1]
    alone, broker, two = (by[setup, clients] for setup in SETUPS)
    works = [measured.redis for measured in broker.runs if measured.redis]
    if works:
        names = sorted(works[0].calls, key=lambda name: -works[0].calls[name])
        lines.append(
            f"- Redis's commands per tick at {clients:,} clients, 1 process: "
            + ", ".join(
                f"{name.upper()} {statistics.median(work.per_tick(name) for work in works):.2f}" for name in names
            )
        )
    for figure, name in ((lambda m: m.result.latency_p50, "p50"), (lambda m: m.result.latency_p99, "p99")):
        added = broker.median(figure) - alone.median(figure)
        lines.append(
            f"- {clients:,} clients, {name}: {1000 * alone.median(figure):.1f} ms in process, "
            f"{1000 * broker.median(figure):.1f} ms with --broker ({1000 * added:+.1f} ms)"
        )
    lines.append(
        f"- {clients:,} clients: server CPU per delivered message {US * alone.cpu_per_message:.1f} µs in process, "
        f"{US * broker.cpu_per_message:.1f} µs with --broker in 1 process, {US * two.cpu_per_message:.1f} µs in 2 "
        "(all processes together)"
    )
    return lines


# -- failover ---------------------------------------------------------------------------------------------------------


@dataclass
class Gap:
    """What the clients saw across one failover: the worst of them."""

    ts_gap: float  # the largest step of ts between two ticks, less one interval
    wall_gap: float  # the longest wait between two receipts
    missed: int  # seqs skipped, all clients together
    repeated: int  # seqs received twice


class Watchers:
    """Clients subscribed to the feed, each recording (receipt time, seq, ts) of every tick."""

    def __init__(self) -> None:
        self.ticks: list[list[tuple[float, int, float]]] = []
        self.changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, port: int, count: int) -> None:
        connections = [
            await connect(f"ws://127.0.0.1:{port}/ws", origin=Origin(f"http://127.0.0.1:{port}")) for _ in range(count)
        ]
        for connection in connections:
            ticks: list[tuple[float, int, float]] = []
            self.ticks.append(ticks)
            self._tasks.append(asyncio.ensure_future(self._read(connection, ticks)))

    async def _read(self, connection: ClientConnection, ticks: list[tuple[float, int, float]]) -> None:
        async with connection:
            await connection.send(orjson.dumps({"op": "subscribe", "feed": FEED, "format": "json"}).decode())
            async for frame in connection:
                message = orjson.loads(frame)
                if message.get("op") == "data":
                    ticks.append((time.time(), message["seq"], message["ts"]))
                    async with self.changed:
                        self.changed.notify_all()

    async def until(self, every_client_has: Any, timeout: float) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: all(map(every_client_has, self.ticks))), timeout)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def gap(self, interval: float) -> Gap:
        ts_gap = wall_gap = 0.0
        missed = repeated = 0
        for ticks in self.ticks:
            for (received, seq, ts), (next_received, next_seq, next_ts) in itertools.pairwise(ticks):
                ts_gap = max(ts_gap, next_ts - ts - interval)
                wall_gap = max(wall_gap, next_received - received)
                missed += max(0, next_seq - seq - 1)
                repeated += next_seq <= seq
        return Gap(ts_gap, wall_gap, missed, repeated)


async def trial(port: int, leader: subprocess.Popen[str], signum: signal.Signals, clients: int) -> Gap:
    """Clients on the node at ``port``; the leader stopped with ``signum``; the gap once the feed goes on."""
    watchers = Watchers()
    try:
        await watchers.start(port, clients)
        await watchers.until(lambda ticks: len(ticks) >= BEFORE_TICKS, START_TIMEOUT)
        stopped = time.time()
        leader.send_signal(signum)
        await watchers.until(
            lambda ticks: sum(received > stopped for received, _, _ in ticks[-AFTER_TICKS:]) >= AFTER_TICKS,
            4 * LEADER_TTL + START_TIMEOUT,
        )
    finally:
        await watchers.close()
    return watchers.gap(1 / HZ)


def lease_holder(client: redis.Redis) -> int | None:
    """The pid in the feed's lease (its token is ``NODE:PID:RANDOM``), if anyone holds it."""
    token: Any = client.get(Keys.of(FEED).lease)
    return int(token.split(b":")[1]) if token else None


def wait_for_leader(client: redis.Redis, among: set[int]) -> int:
    """The pid that leads the feed, once one of ``among`` does (polled: the lease is only in Redis)."""
    deadline = time.monotonic() + START_TIMEOUT
    while (pid := lease_holder(client)) not in among:
        if time.monotonic() > deadline:
            raise RuntimeError(f"none of {sorted(among)} took the lease of {FEED} in {START_TIMEOUT:g} s")
        time.sleep(0.05)
    assert pid is not None
    return pid


def failovers(signum: signal.Signals, trials: int, clients: int) -> list[Gap]:
    scenario = Scenario(clients, HZ, "json")
    gaps: list[Gap] = []
    with redis_server() as server, ExitStack() as nodes:
        client = redis.Redis(port=server.port)
        started: dict[int, tuple[subprocess.Popen[str], int]] = {}  # by pid: the process and its port

        def start_node() -> int:
            name = f"node-{len(started) + 1}"
            process, port = nodes.enter_context(
                running_server("ours", scenario, ("--broker", server.url, "--node-name", name))
            )
            started[process.pid] = process, port
            return process.pid

        leader = wait_for_leader(client, {start_node()})
        for number in range(trials):
            follower = start_node()
            gap = asyncio.run(trial(started[follower][1], started[leader][0], signum, clients))
            gaps.append(gap)
            started[leader][0].wait(START_TIMEOUT)
            leader = wait_for_leader(client, {follower})
            print(
                f"# failover {number + 1} of {trials}, {signum.name}: ticks stopped for {1000 * gap.ts_gap:.0f} ms "
                f"(ts), {1000 * gap.wall_gap:.0f} ms (receipts); {gap.missed} missed, {gap.repeated} repeated",
                file=sys.stderr,
                flush=True,
            )
        client.close()
    return gaps


FAILOVER_HEADER = (
    "| leader stopped by | trials | gap in ts, median ms | max ms | gap in receipts, median ms | max ms "
    "| ticks missed | ticks repeated |\n"
    "|---|---|---|---|---|---|---|---|"
)


def failover_row(signum: signal.Signals, gaps: list[Gap]) -> str:
    ts = [gap.ts_gap for gap in gaps]
    wall = [gap.wall_gap for gap in gaps]
    return (
        f"| {signum.name} | {len(gaps)} | {1000 * statistics.median(ts):.0f} | {1000 * max(ts):.0f} "
        f"| {1000 * statistics.median(wall):.0f} | {1000 * max(wall):.0f} "
        f"| {sum(gap.missed for gap in gaps)} | {sum(gap.repeated for gap in gaps)} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark the server as a node of a cluster on Redis.")
    parser.add_argument("--clients", type=int, action="append", help="numbers of clients (default: 100 and 1,000)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds each run counts (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per scenario; figures are medians (default 3)")
    parser.add_argument("--trials", type=int, default=5, help="failovers by each signal (default 5)")
    parser.add_argument("--failover-clients", type=int, default=FAILOVER_CLIENTS, help="clients watching a failover")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if (os.cpu_count() or 1) >= 2:
        # The failover trials' clients run here: on the load generator's core, as it does.
        os.sched_setaffinity(0, {LOADGEN_CORE})
        print(
            f"# server processes and redis-server on core {SERVER_CORE}, load generator and failover clients on core "
            f"{LOADGEN_CORE}; stocks (20 symbols) at {HZ:g} Hz, JSON"
        )
    else:
        print("# 1 core: server, redis-server and load generator share it")
    print(f"# every figure the median of {args.repeat} round{'s' if args.repeat > 1 else ''}")
    idle = idle_redis(IDLE_SECONDS)
    rows = [row for clients in args.clients or (100, 1000) for row in rounds(clients, args.duration, args.repeat)]
    print()
    print("Redis's work per tick, one node (every server process subscribes on its own):")
    print()
    print(REDIS_HEADER)
    for row in rows:
        if row.setup.broker:
            print(redis_row(row))
    print()
    print(
        f"- redis-server with nobody connected: {100 * idle:.2f}% of a core, {US * idle / HZ:.0f} µs per tick's "
        "interval: its own timers, in every figure of CPU per tick above"
    )
    print()
    print("The broker path: latency and server CPU per delivered message:")
    print()
    print(PATH_HEADER)
    for row in rows:
        print(path_row(row, next(other for other in rows if other.scenario == row.scenario and not other.setup.broker)))
    print()
    for line in summary(rows):
        print(line, flush=True)
    print()
    print(
        f"Failover: two nodes, --leader-ttl {LEADER_TTL:g}, {args.failover_clients} clients on the node that does not "
        "lead; the leader stopped:"
    )
    print()
    print(FAILOVER_HEADER, flush=True)
    results = {
        signum: failovers(signum, args.trials, args.failover_clients) for signum in (signal.SIGKILL, signal.SIGTERM)
    }
    for signum, gaps in results.items():
        print(failover_row(signum, gaps))
    print()
    killed = max(gap.ts_gap for gap in results[signal.SIGKILL])
    print(
        check(
            f"SIGKILL: the feed goes on within 2 x --leader-ttl ({2 * LEADER_TTL:g} s)",
            killed <= 2 * LEADER_TTL,
            f"at most {killed:.2f} s",
        )
    )
    handed = [gap.ts_gap * HZ + 1 for gap in results[signal.SIGTERM]]
    print(
        f"- SIGTERM: the longest step between two ticks was {statistics.median(handed):.2f} intervals "
        f"(median; at most {max(handed):.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
