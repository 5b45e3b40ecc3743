"""``make bench``: our server against its peers on the same work, and the targets of docs/performance.md.

Each run starts one server process and one load generator process (bench/loadgen.py), pinned to different cores
when there are two or more, connects N clients, measures the server's memory with N idle connections, subscribes
them, and counts for a window: delivered messages per second and per server CPU-second, latency from each tick's
``ts`` to its receipt, and the load generator's own CPU (a load generator near 100% would make every figure a
figure of itself). The servers:

- ``ours``: server.py, the fast path;
- ``ours+token``: server.py with ``--auth-secret``, every client presenting a token (1,000 clients, JSON only);
- ``tutorial``: Tornado as tutorials write it (bench/peers/tutorial_tornado.py);
- ``websockets``: the websockets library's broadcast() (bench/peers/websockets_broadcast.py);
- ``raw``: the raw asyncio floor (bench/peers/raw_floor.py).

Every server sends the same ticks: the stocks feed with 20 symbols, the same payload bytes. Each scenario runs
``--repeat`` rounds (3 by default), every server once a round, in a rotating order; the table gives each figure's
median over the rounds (the most gaps and the least delivered), so that one noisy moment of a shared machine does
not decide a row.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psutil

from feeds.encoded import EncodedTick
from feeds.history import History
from feeds.stocks import StocksFeed
from feeds.tick import Tick
from handlers.security.auth import Authenticator

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = "AAPL,MSFT,NVDA,AMZN,GOOG,META,TSLA,AVGO,ORCL,AMD,NFLX,ADBE,CRM,INTC,CSCO,QCOM,TXN,IBM,NOW,UBER"
SERVERS = ("ours", "tutorial", "websockets", "raw")
# Ours again, authenticating every client: each handshake carries a token the server verifies.
OURS_WITH_TOKENS = "ours+token"
AUTH_SECRET = "the benchmark's secret, 32 bytes or more"
PEER_MODULES = {
    "tutorial": "bench.peers.tutorial_tornado",
    "websockets": "bench.peers.websockets_broadcast",
    "raw": "bench.peers.raw_floor",
}
START_TIMEOUT = 30.0
SERVER_CORE, LOADGEN_CORE = 0, 1
KIB = 1024
RECONNECT_CLIENTS = 5000


@dataclass(frozen=True)
class Scenario:
    clients: int
    hz: float
    fmt: str = "json"
    feeds: tuple[str, ...] = ("stocks",)
    duration: float = 5.0


@dataclass
class Result:
    server: str
    scenario: Scenario
    connect_seconds: float = 0.0
    idle_kib_per_connection: float = 0.0
    messages: int = 0
    seconds: float = 0.0
    gaps: int = 0
    latency_p50: float = 0.0
    latency_p99: float = 0.0
    server_cpu: float = 0.0
    loadgen_cpu: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def per_cpu_second(self) -> float:
        return self.messages / (self.server_cpu * self.seconds) if self.server_cpu else 0.0

    @property
    def expected(self) -> float:
        """Messages a lossless server would have delivered in the window."""
        return self.scenario.clients * self.scenario.hz * len(self.scenario.feeds) * self.seconds


def pinned(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if (os.cpu_count() or 1) >= 2 else []


def server_command(server: str, scenario: Scenario) -> list[str]:
    interval = f"{1 / scenario.hz:g}"
    if server == OURS_WITH_TOKENS:
        return [*server_command("ours", scenario), "--auth-secret", AUTH_SECRET]
    if server == "ours":
        command = [
            "server.py",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--option",
            f"stocks.symbols={SYMBOLS}",
            "--option",
            "stocks.seed=1",
            "--option",
            f"stocks.interval={interval}",
            # Every load generator client comes from 127.0.0.1, and the big scenario opens 10,000 of them: as many
            # handshakes, HTTP requests from one client, at once.
            "--max-connections",
            "0",
            "--max-connections-per-ip",
            "0",
            "--max-http-rate",
            "0",
        ]
        # The system feed samples psutil, which the peers do not: slow it down unless the scenario reads it.
        system_interval = interval if "system" in scenario.feeds else "3600"
        return [*command, "--option", f"system.interval={system_interval}"]
    return ["-m", PEER_MODULES[server], "--port", "0", "--interval", interval, "--symbols", SYMBOLS]


@contextmanager
def running_server(
    server: str, scenario: Scenario, extra: Sequence[str] = ()
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """The server started on its core, with ``extra`` arguments after the scenario's; yields it and its port."""
    process = subprocess.Popen(
        [*pinned(SERVER_CORE), sys.executable, *server_command(server, scenario), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"{server} did not start: {line!r}")
        yield process, int(line.split()[2].rstrip("/").rsplit(":", 1)[1])  # listening on URL [more for people]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def family(process: psutil.Process) -> list[psutil.Process]:
    """The process and its descendants: with ``--processes N``, the parent and its N children."""
    return [process, *process.children(recursive=True)]


def family_cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(cpu_seconds(process) for process in processes)


def family_rss(processes: list[psutil.Process]) -> int:
    return sum(process.memory_info().rss for process in processes)


def run(
    server: str,
    scenario: Scenario,
    extra: Sequence[str] = (),
    window: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> Result:
    """One server on one scenario, started with ``extra`` arguments after the scenario's. ``window()`` is entered as
    the measurement window opens and left as it closes, for a caller to measure something else over the same time.
    The server's CPU and memory are its process's and its children's together."""
    result = Result(server, scenario)
    with running_server(server, scenario, extra) as (process, port):
        # The server process itself, not taskset's wrapper (taskset execs, so the pid is the same), and the
        # processes it forked (all there once it has printed its listening line).
        watched = family(psutil.Process(process.pid))
        baseline_rss = family_rss(watched)
        loadgen = subprocess.Popen(
            [
                *pinned(LOADGEN_CORE),
                sys.executable,
                "bench/loadgen.py",
                "--port",
                str(port),
                "--clients",
                str(scenario.clients),
                "--format",
                scenario.fmt,
                "--duration",
                str(scenario.duration),
                *(arg for feed in scenario.feeds for arg in ("--feed", feed)),
                *(
                    ("--token", Authenticator(AUTH_SECRET).mint("bench", [], 3600))
                    if server == OURS_WITH_TOKENS
                    else ()
                ),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert loadgen.stdin is not None and loadgen.stdout is not None
        try:
            connected = orjson.loads(loadgen.stdout.readline())
            result.connect_seconds = connected["seconds"]
            result.idle_kib_per_connection = (family_rss(watched) - baseline_rss) / KIB / scenario.clients
            loadgen.stdin.write("go\n")
            loadgen.stdin.flush()
            assert orjson.loads(loadgen.stdout.readline())["event"] == "window"
            with window():
                cpu_before, wall_before = family_cpu_seconds(watched), time.perf_counter()
                report = orjson.loads(loadgen.stdout.readline())
                result.server_cpu = (family_cpu_seconds(watched) - cpu_before) / (time.perf_counter() - wall_before)
        finally:
            loadgen.stdin.close()
            loadgen.wait(30)
            loadgen.stdout.close()
    result.messages, result.seconds, result.gaps = report["messages"], report["seconds"], report["gaps"]
    result.latency_p50, result.latency_p99 = report["latency_p50"], report["latency_p99"]
    result.loadgen_cpu = report["loadgen_cpu"]
    return result


@dataclass(frozen=True)
class Summary:
    """One server on one scenario over all rounds: the median of each figure, the worst delivery."""

    server: str
    scenario: Scenario
    runs: int
    rate: float
    delivered: float  # the least, as a fraction of what a lossless server sends
    messages: int  # the least
    expected: float
    gaps: int  # the most
    per_cpu_second: float
    latency_p50: float
    latency_p99: float
    idle_kib_per_connection: float
    connect_seconds: float
    server_cpu: float
    loadgen_cpu: float

    @classmethod
    def of(cls, runs: list[Result]) -> Summary:
        def median(figure: str) -> float:
            return float(statistics.median(getattr(run, figure) for run in runs))

        least = min(runs, key=lambda run: run.messages / run.expected if run.expected else 0.0)
        return cls(
            server=runs[0].server,
            scenario=runs[0].scenario,
            runs=len(runs),
            rate=median("rate"),
            delivered=least.messages / least.expected if least.expected else 0.0,
            messages=least.messages,
            expected=least.expected,
            gaps=max(run.gaps for run in runs),
            per_cpu_second=median("per_cpu_second"),
            latency_p50=median("latency_p50"),
            latency_p99=median("latency_p99"),
            idle_kib_per_connection=median("idle_kib_per_connection"),
            connect_seconds=median("connect_seconds"),
            server_cpu=median("server_cpu"),
            loadgen_cpu=median("loadgen_cpu"),
        )


def row(result: Summary, reference: Summary | None) -> str:
    scenario = result.scenario
    ratio = f"{result.per_cpu_second / reference.per_cpu_second:.2f}" if reference and reference.per_cpu_second else ""
    delivered = f"{100 * result.delivered:.1f}%" if result.expected else ""
    return (
        f"| {result.server} | {scenario.clients:,} | {scenario.fmt} | {'+'.join(scenario.feeds)} | {scenario.hz:g} "
        f"| {result.rate:,.0f} | {delivered} | {result.gaps} | {result.per_cpu_second:,.0f} | {ratio} "
        f"| {1000 * result.latency_p50:.1f} | {1000 * result.latency_p99:.1f} "
        f"| {result.idle_kib_per_connection:.1f} | {scenario.clients / result.connect_seconds:,.0f} "
        f"| {100 * result.server_cpu:.0f}% | {100 * result.loadgen_cpu:.0f}% |"
    )


HEADER = (
    "| server | clients | format | feeds | Hz | delivered msg/s | delivered | gaps | msg per server CPU-s "
    "| x ours | p50 ms | p99 ms | KiB per idle conn | accepts/s | server CPU | loadgen CPU |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def check(label: str, ok: bool, detail: str) -> str:
    return f"- [{'x' if ok else ' '}] {label}: {detail}"


def targets(results: list[Summary]) -> list[str]:
    def find(server: str, clients: int, fmt: str = "json", feeds: tuple[str, ...] = ("stocks",)) -> Summary | None:
        return next(
            (
                r
                for r in results
                if r.server == server
                and r.scenario.clients == clients
                and r.scenario.fmt == fmt
                and r.scenario.feeds == feeds
            ),
            None,
        )

    lines = []
    ours = find("ours", 1000)
    for peer, minimum in (("raw", 0.8), ("websockets", 1.5), ("tutorial", 10.0)):
        other = find(peer, 1000)
        if ours and other and other.per_cpu_second:
            ratio = ours.per_cpu_second / other.per_cpu_second
            lines.append(
                check(f"1,000 clients: msg per CPU-s at least {minimum:g} x {peer}", ratio >= minimum, f"{ratio:.3f} x")
            )
    tokened = find(OURS_WITH_TOKENS, 1000)
    if ours and tokened:
        lines.append(
            f"- 1,000 clients: {tokened.scenario.clients / tokened.connect_seconds:,.0f} handshakes a second with a "
            f"token to verify, {ours.scenario.clients / ours.connect_seconds:,.0f} without"
        )
    big = find("ours", 10_000)
    if big:
        lines += [
            check(
                "10,000 clients at 1 Hz: all messages delivered",
                big.gaps == 0 and big.messages >= big.expected * 0.99,
                f"{big.messages:,} of {big.expected:,.0f}, {big.gaps} gaps",
            ),
            check(
                "10,000 clients: p99 latency under 100 ms", big.latency_p99 < 0.100, f"{1000 * big.latency_p99:.1f} ms"
            ),
            check(
                "10,000 clients: at most 12 KB per idle connection",
                big.idle_kib_per_connection * KIB <= 12_000,
                f"{big.idle_kib_per_connection * KIB / 1000:.1f} KB",
            ),
            check("10,000 clients accepted in under 10 s", big.connect_seconds < 10, f"{big.connect_seconds:.1f} s"),
        ]
    two = find("ours", 1000, feeds=("stocks", "system"))
    if two:
        lines.append(
            check(
                "1,000 clients at 10 Hz on two feeds: p99 under 20 ms",
                two.latency_p99 < 0.020,
                f"{1000 * two.latency_p99:.1f} ms",
            )
        )
    return lines


def scenarios(quick: bool) -> list[tuple[Scenario, tuple[str, ...]]]:
    """Each scenario with the servers that run it."""
    plan: list[tuple[Scenario, tuple[str, ...]]] = []
    sizes = ((100, 20.0), (1000, 20.0)) if quick else ((100, 20.0), (1000, 20.0), (10_000, 1.0))
    for clients, hz in sizes:
        duration = 10.0 if hz < 2 else 5.0
        for fmt in ("json", "binary"):
            with_tokens = (OURS_WITH_TOKENS,) if clients == 1000 and fmt == "json" else ()
            plan.append((Scenario(clients, hz, fmt, duration=duration), (*SERVERS[:1], *with_tokens, *SERVERS[1:])))
    plan.append((Scenario(1000, 10.0, "json", ("stocks", "system")), ("ours",)))
    return plan


def rounds(scenario: Scenario, servers: tuple[str, ...], repeat: int) -> list[Summary]:
    """Run every server ``repeat`` times, rotating who goes first, and summarize each."""
    runs: dict[str, list[Result]] = {server: [] for server in servers}
    for round_number in range(repeat):
        shift = round_number % len(servers)
        for server in servers[shift:] + servers[:shift]:
            result = run(server, scenario)
            runs[server].append(result)
            print(
                f"# round {round_number + 1} of {repeat}: {server}, {scenario.clients:,} clients, {scenario.fmt}, "
                f"{'+'.join(scenario.feeds)}: {result.per_cpu_second:,.0f} msg per CPU-s, "
                f"p99 {1000 * result.latency_p99:.1f} ms",
                file=sys.stderr,
                flush=True,
            )
    return [Summary.of(runs[server]) for server in servers]


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark the dashboard server against its peers.")
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-client runs")
    parser.add_argument("--only", choices=(*SERVERS, OURS_WITH_TOKENS), action="append", help="run only these servers")
    parser.add_argument("--clients", type=int, action="append", help="run only the scenarios with this many clients")
    parser.add_argument("--feeds", type=int, help="run only the scenarios with this many feeds")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per scenario; figures are medians (default 3)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    cpus = os.cpu_count() or 1
    print(
        f"# {cpus} cores; server on core {SERVER_CORE}, load generator on core {LOADGEN_CORE}"
        if cpus >= 2
        else "# 1 core: server and load generator share it"
    )
    print(f"# every figure is the median of {args.repeat} round{'s' if args.repeat > 1 else ''}")
    print(HEADER, flush=True)
    results: list[Summary] = []
    for scenario, servers in scenarios(args.quick):
        chosen = tuple(server for server in servers if not args.only or server in args.only)
        if (
            not chosen
            or (args.clients and scenario.clients not in args.clients)
            or (args.feeds and len(scenario.feeds) != args.feeds)
        ):
            continue
        summaries = rounds(scenario, chosen, args.repeat)
        results += summaries
        reference = next((summary for summary in summaries if summary.server == "ours"), None)
        for summary in summaries:
            print(row(summary, reference), flush=True)
    print()
    for line in targets(results):
        print(line)
    print()
    print(held_tick_memory())
    if not args.quick:
        print(reconnect(RECONNECT_CLIENTS))
    return 0


def held_tick_memory(count: int = 10_000) -> str:
    """What a held tick costs a feed's history: ``count`` ticks of the bench's 20-symbol stocks feed, traced."""
    feed = StocksFeed(symbols=tuple(SYMBOLS.split(",")), seed=1)
    fields = tuple(field.name for field in feed.fields)
    history = History(count, math.inf)
    ticks = [Tick("stocks", 1, seq, 1.7e9 + seq, fields, tuple(feed.step().values())) for seq in range(1, count + 1)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for tick in ticks:
        history.append(EncodedTick.of(tick))
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return f"- a held tick of the 20-symbol stocks feed (both formats): {held / count:,.0f} bytes"


def reconnect(clients: int) -> str:
    """bench/reconnect.py: every client cut off, then the server restarted; each comes back and resumes."""
    output = subprocess.run(
        [sys.executable, "bench/reconnect.py", "--clients", str(clients)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    report = orjson.loads(output)
    cut, restart = report["cut"], report["restart"]
    lines = [f"- reconnect, {clients:,} clients resuming with since and run (the page's backoff):"]
    if isinstance(cut, str):
        lines.append(f"  - connections cut: {cut}")
    else:
        lines.append(
            f"  - connections cut, server up: all back and resumed in {cut['back_seconds']:.1f} s, "
            f"{cut['missed_per_client']:g} ticks missed per client, {cut['repeated']} repeated "
            f"({cut['replayed_per_client']:.1f} replayed)"
        )
    lines.append(
        f"  - server restarted: SIGTERM to exit {restart['shutdown_seconds']:.2f} s with every client connected; "
        f"all back in {restart['back_seconds']:.1f} s, {restart['told_gap']:,} told gap (a new run)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
