"""``make bench-attack``: the red team's attacks of issue 18 against a real server, beside well-behaved clients.

Each scenario starts its own server process on core 0: server.py with the benchmark's 20-symbol stocks feed at
20 Hz, connection limits lifted so that every client may come from 127.0.0.1, plus what the scenario needs. The
bystanders, 1,000 clients of bench/loadgen.py subscribed to stocks, run on core 1 and are measured twice on that
server for ``--seconds`` each: alone, then with the scenario's attacking connections (this process, on core 1 too),
which connect before the window and start sending as it opens. The table gives, for both windows, the bystanders'
delivered ticks, their seq gaps and their lag from each tick's ``ts`` to its receipt (p50, p99), next to the target
of issue 18: with any one attacking connection, the bystanders keep at least 95% of their ticks and a p99 under
50 ms at 1,000 clients. Delivered ticks are counted against the feed's schedule (20 a second to each bystander): a
feed skips the beats its event loop was too busy for, so a stalled server shows as ticks missing, with no seq gap
and no lag to see. Beside them, the server's CPU, what else ran on its core (this machine is shared: a busy
neighbour shows there), its RSS, and the client core's load. Then, in this process, what
`handlers.protocol.messages.parse_request` costs on the worst shapes of message, the attacks' and the fuzzer's:
the parsing alone, and with the cyclic garbage collector on at the server's threshold (a message that makes tens
of thousands of containers pays for a collection too).

The scenarios (one attacking connection unless said):

- ``replay``: ``subscribe`` to stocks with ``history`` 36000, then ``unsubscribe``, 7 times a second each (14
  messages a second, under the default ``--max-rate`` of 20), reading everything. A history fills at the feed's
  rate, 20 ticks a second: 36,000 would take half an hour, so the attack starts 30 s after the server (by default:
  ``--history-warmup``), with what is held by then (the table says how many ticks the first replay carried).
- ``replay-unread``: 100 connections that each subscribe with ``history`` 36000 twice (unsubscribing between),
  then read nothing.
- ``id-lists``, ``id-zeros``, ``id-unknown-feed``: 3 connections, each sending a burst of 100 messages, then 20 a
  second (the default ``--max-burst`` and ``--max-rate``): a ``ping`` whose ``id`` is 21,800 empty lists, or
  32,000 zeros, or a ``subscribe`` to an unknown feed with the first id; each message under 64 KiB.
- ``wide``: the server also runs bench/plugins/wide.py (256 fields of 64-character names at 10 Hz); one connection
  subscribes to it in JSON with ``history`` 36000, and unsubscribes, 7 times a second each; the server's RSS at
  each window's end shows what it holds.

Run it from the repository's root as ``python -m bench.attack``; ``--seconds 15`` for a quicker pass.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import os
import statistics
import sys
import time
import timeit
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
import psutil
import uvloop

from bench import loadgen
from bench.run import LOADGEN_CORE, ROOT, SERVER_CORE, Scenario, check, cpu_seconds, pinned, running_server
from handlers.protocol.messages import ProtocolError, parse_request
from handlers.settings import Settings
from server import GC_YOUNG_THRESHOLD

__all__ = ["ATTACKS", "Attack", "main"]

HOST = "127.0.0.1"
BYSTANDERS = 1000
TICK_HZ = 20.0  # the stocks feed's rate, for bystanders and attackers alike
WINDOW_SECONDS = 20.0  # each measurement window: the bystanders alone, then attacked
HISTORY_WARMUP_SECONDS = 30.0  # a replay attack starts at least this long after its server, by default
EVENT_MARGIN_SECONDS = 60.0  # beyond a window's length: a load generator later than this is stuck
TARGET_DELIVERED = 0.95  # of the ticks the feed's schedule makes for each bystander
TARGET_P99_SECONDS = 0.050
DEFAULTS = Settings()  # the server's limits as it starts without flags: what an attacker may count on
HISTORY_TICKS = DEFAULTS.history_ticks  # what the replays ask for: the most a history holds (36,000)
REPLAY_RATE = 14.0  # messages a second: subscribe and unsubscribe, 7 each, under --max-rate's default 20
UNREAD_CONNECTIONS = 100
ID_CONNECTIONS = 3
ID_BURST = DEFAULTS.max_burst  # messages at once (100)
ID_RATE = DEFAULTS.max_rate  # messages a second after the burst (20)
EMPTY_LISTS = 21_800
ZEROS = 32_000
WIDE_PLUGIN = "bench/plugins/wide.py"
PARSE_RUNS = 200  # timings of parse_request per shape; the least is reported
MB = 1_000_000
MS_PER_SECOND = 1000
US_PER_SECOND = 1_000_000

# RFC 6455, section 5.2: the frame bits the attackers and their reading need.
FIN_TEXT = 0x81
MASKED = 0x80
LENGTH_16, LENGTH_64 = 126, 127
OPCODE_TEXT, OPCODE_CLOSE = 0x1, 0x8
NO_STATUS = 1005  # a Close frame without a code
DATA_PREFIX = b'{"op":"data"'  # a JSON tick, which the attackers count only as bytes read


def message(**fields: object) -> bytes:
    """A client message, as compact JSON."""
    return orjson.dumps(fields)


REPLAY = (
    message(op="subscribe", feed="stocks", history=HISTORY_TICKS),
    message(op="unsubscribe", feed="stocks"),
)
REPLAY_TWICE = (*REPLAY, REPLAY[0])
WIDE_REPLAY = (
    message(op="subscribe", feed="wide", format="json", history=HISTORY_TICKS),
    message(op="unsubscribe", feed="wide"),
)
PING_LISTS = message(op="ping", id=[[]] * EMPTY_LISTS)
PING_ZEROS = message(op="ping", id=[0] * ZEROS)
UNKNOWN_FEED_LISTS = message(op="subscribe", feed="nope", id=[[]] * EMPTY_LISTS)


@dataclass(frozen=True)
class Attack:
    """A scenario: what each of its attacking connections sends, and how."""

    name: str
    summary: str
    messages: tuple[bytes, ...]  # sent in turn, over and over
    connections: int = 1
    burst: int = 0  # messages each connection sends at once, first
    rate: float = 0.0  # then messages a second from each connection; 0: no more
    reads: bool = True  # False: reads nothing at all after the handshake
    replays: bool = False  # it asks for history: starts a warm-up after the server at the earliest (Plan)
    server_args: tuple[str, ...] = ()


ATTACKS = (
    Attack(
        "replay",
        f"subscribe with history {HISTORY_TICKS} and unsubscribe, {REPLAY_RATE / 2:g} a second each, reading all",
        REPLAY,
        rate=REPLAY_RATE,
        replays=True,
    ),
    Attack(
        "replay-unread",
        f"subscribe with history {HISTORY_TICKS}, unsubscribe, subscribe again, then read nothing",
        REPLAY_TWICE,
        connections=UNREAD_CONNECTIONS,
        burst=len(REPLAY_TWICE),
        reads=False,
        replays=True,
    ),
    Attack(
        "id-lists",
        f"ping with an id of {EMPTY_LISTS:,} empty lists: a burst of {ID_BURST}, then {ID_RATE:g} a second",
        (PING_LISTS,),
        connections=ID_CONNECTIONS,
        burst=ID_BURST,
        rate=ID_RATE,
    ),
    Attack(
        "id-zeros",
        f"ping with an id of {ZEROS:,} zeros: a burst of {ID_BURST}, then {ID_RATE:g} a second",
        (PING_ZEROS,),
        connections=ID_CONNECTIONS,
        burst=ID_BURST,
        rate=ID_RATE,
    ),
    Attack(
        "id-unknown-feed",
        f"subscribe to an unknown feed with the {EMPTY_LISTS:,} lists' id: a burst of {ID_BURST}, then {ID_RATE:g}/s",
        (UNKNOWN_FEED_LISTS,),
        connections=ID_CONNECTIONS,
        burst=ID_BURST,
        rate=ID_RATE,
    ),
    Attack(
        "wide",
        f"subscribe to a 256-field feed (JSON) with history {HISTORY_TICKS} and unsubscribe, {REPLAY_RATE / 2:g} a "
        "second each, reading everything",
        WIDE_REPLAY,
        rate=REPLAY_RATE,
        replays=True,
        server_args=("--feed", WIDE_PLUGIN),
    ),
)


@dataclass
class Seen:
    """What an attack's connections sent and read, all together."""

    sent: int = 0
    bytes_read: int = 0
    replies: Counter[str] = field(default_factory=Counter)  # by op; errors by their code
    held: int | None = None  # ticks the first replay carried: what the history held when the attack began
    replayed: int = 0  # ticks, over every replay
    cut: int = 0  # replays cut by the replay budget (subscribed with gap)
    closed: Counter[int] = field(default_factory=Counter)  # the codes of the server's Close frames
    closed_by_server: int = 0  # connections no longer open at the attack's end (the server ended them)

    def reply(self, reply: dict[str, Any]) -> None:
        op = str(reply.get("op"))
        self.replies[str(reply.get("code")) if op == "error" else op] += 1
        if op == "subscribed":
            if self.held is None:
                self.held = int(reply["replayed"])
            self.replayed += int(reply["replayed"])
            self.cut += bool(reply["gap"])


def frame_header(length: int) -> bytes:
    """The header of a masked, final text frame with a payload of ``length`` bytes."""
    if length < LENGTH_16:
        return bytes((FIN_TEXT, MASKED | length))
    if length < 1 << 16:
        return bytes((FIN_TEXT, MASKED | LENGTH_16)) + length.to_bytes(2, "big")
    return bytes((FIN_TEXT, MASKED | LENGTH_64)) + length.to_bytes(8, "big")


def next_frame(buffer: bytes, offset: int) -> tuple[int, int, int] | None:
    """The opcode, payload start and payload end of the server's frame at ``offset``, or None if it is not all in."""
    size = len(buffer)
    if size - offset < 2:
        return None
    length, start = buffer[offset + 1] & 0x7F, offset + 2
    if length == LENGTH_16:
        if size - start < 2:
            return None
        length, start = int.from_bytes(buffer[start : start + 2], "big"), start + 2
    elif length == LENGTH_64:
        if size - start < 8:
            return None
        length, start = int.from_bytes(buffer[start : start + 8], "big"), start + 8
    end = start + length
    return None if end > size else (buffer[offset] & 0x0F, start, end)


class Attacker(loadgen.Client):
    """An attacking connection: the load generator's handshake, then messages of any size. It counts what it reads
    in ``seen``; one that does not ``read`` stops reading after the handshake, and the kernel's buffers fill."""

    def __init__(self, seen: Seen, port: int, ready: asyncio.Future[None], reads: bool) -> None:
        super().__init__(loadgen.Totals(), HOST, port, ready, False, "/ws")
        self.seen = seen
        self.reads = reads
        self.local_port = 0

    def send_message(self, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(frame_header(len(payload)) + loadgen.MASK + payload)
        self.seen.sent += 1

    def data_received(self, data: bytes) -> None:
        self.seen.bytes_read += len(data)
        super().data_received(data)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.local_port = int(transport.get_extra_info("sockname")[1])

    def _frames(self, buffer: bytes) -> bytes:
        if not self.reads:
            assert self.transport is not None
            self.transport.pause_reading()
            return b""
        offset = 0
        while (frame := next_frame(buffer, offset)) is not None:
            opcode, start, end = frame
            if opcode == OPCODE_TEXT and not buffer.startswith(DATA_PREFIX, start):
                self.seen.reply(orjson.loads(buffer[start:end]))
            elif opcode == OPCODE_CLOSE:
                self.seen.closed[
                    int.from_bytes(buffer[start : start + 2], "big") if end - start >= 2 else NO_STATUS
                ] += 1
            offset = end
        return buffer[offset:]


async def connect(port: int, attack: Attack, seen: Seen) -> list[Attacker]:
    """Open the attack's connections, every handshake done."""
    loop = asyncio.get_running_loop()

    async def one() -> Attacker:
        ready: asyncio.Future[None] = loop.create_future()
        _, attacker = await loop.create_connection(lambda: Attacker(seen, port, ready, attack.reads), HOST, port)
        await ready
        return attacker

    return list(await asyncio.gather(*(one() for _ in range(attack.connections))))


async def send(attackers: Sequence[Attacker], attack: Attack) -> None:
    """Send the attack's messages in turn from every connection: ``burst`` at once, then ``rate`` a second."""
    turn = itertools.cycle(attack.messages)
    for _ in range(attack.burst):
        payload = next(turn)
        for attacker in attackers:
            attacker.send_message(payload)
    if not attack.rate:
        return
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        due += 1 / attack.rate  # on a fixed schedule, so that a late turn does not lower the rate
        await asyncio.sleep(due - loop.time())
        payload = next(turn)
        for attacker in attackers:
            attacker.send_message(payload)


@dataclass(frozen=True)
class Window:
    """The bystanders over one measurement window, and the server meanwhile."""

    messages: int
    expected: float  # what a lossless server would have delivered in the window
    gaps: int
    lag_p50: float  # seconds
    lag_p99: float
    loadgen_cpu: float  # the load generator's share of its core
    cpu: Shares
    server_rss: int  # bytes, at the window's end

    @classmethod
    def of(cls, report: dict[str, Any], clients: int, cpu: Shares, server_rss: int) -> Window:
        """From the load generator's result, the server's and the others' shares of its core, and its RSS."""
        return cls(
            messages=report["messages"],
            expected=clients * TICK_HZ * report["seconds"],
            gaps=report["gaps"],
            lag_p50=report["latency_p50"],
            lag_p99=report["latency_p99"],
            loadgen_cpu=report["loadgen_cpu"],
            cpu=cpu,
            server_rss=server_rss,
        )

    @property
    def delivered(self) -> float:
        return self.messages / self.expected if self.expected else 0.0

    @property
    def met(self) -> bool:
        return self.delivered >= TARGET_DELIVERED and self.lag_p99 < TARGET_P99_SECONDS


def busy_seconds(core: int) -> float:
    """The CPU time ``core`` has spent on anything but idling, every process's."""
    times = psutil.cpu_times(percpu=True)[core]
    return float(sum(times) - times.idle - times.iowait)


class Shares(NamedTuple):
    """Shares of a core over a window."""

    server: float  # of its core, the server process's
    others: float  # of the server's core, everything else's: other processes, interrupts
    attackers: float  # of the client core, this process's: the attacking connections


class Meter:
    """CPU time from the meter's start: the server's, its core's, and this process's."""

    def __init__(self, server: psutil.Process) -> None:
        self.server = server
        self.started = (cpu_seconds(server), busy_seconds(SERVER_CORE), time.process_time(), time.perf_counter())

    def shares(self) -> Shares:
        server_cpu, core_cpu, own_cpu, wall = self.started
        elapsed = time.perf_counter() - wall
        server = (cpu_seconds(self.server) - server_cpu) / elapsed
        others = (busy_seconds(SERVER_CORE) - core_cpu) / elapsed - server
        return Shares(server, others, (time.process_time() - own_cpu) / elapsed)


async def event(loadgen_process: asyncio.subprocess.Process, name: str, timeout: float) -> dict[str, Any]:
    """The load generator's next line, within ``timeout`` seconds, which must be the event ``name``."""
    assert loadgen_process.stdout is not None
    line = await asyncio.wait_for(loadgen_process.stdout.readline(), timeout)
    report: dict[str, Any] = orjson.loads(line) if line else {}
    if report.get("event") != name:
        raise RuntimeError(f"expected the load generator's {name!r}, got {line!r}")
    return report


def closed_by_server(attackers: Sequence[Attacker], server: psutil.Process) -> int:
    """How many of ``attackers`` the server no longer holds a socket for. Asked of the server's open sockets: a
    connection that reads nothing hears of its end neither from the event loop nor from its kernel, whose window is
    closed to the server's FIN."""
    held = {connection.raddr.port for connection in server.net_connections("tcp") if connection.raddr}
    return sum(attacker.local_port not in held for attacker in attackers)


async def stop(
    sending: asyncio.Task[None] | None, attackers: Sequence[Attacker], seen: Seen, server: psutil.Process
) -> None:
    """End an attack: no more messages, every connection closed."""
    if sending is not None:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
    seen.closed_by_server = closed_by_server(attackers, server)
    for attacker in attackers:
        if attacker.transport is not None:
            attacker.transport.abort()


@dataclass(frozen=True)
class Plan:
    """How every scenario runs."""

    clients: int  # bystanders
    seconds: float  # each window
    history_warmup: float  # seconds after its server start that a replay attack starts, at the earliest


async def measure(port: int, server: psutil.Process, plan: Plan, attack: Attack | None) -> tuple[Window, Seen]:
    """One window of the bystanders, alone or with ``attack`` sending from its first moment to its last; and what
    the attack sent and read."""
    seen = Seen()
    timeout = plan.seconds + EVENT_MARGIN_SECONDS
    bystanders = await asyncio.create_subprocess_exec(
        *pinned(LOADGEN_CORE),
        *(sys.executable, "bench/loadgen.py", "--port", str(port), "--clients", str(plan.clients)),
        *("--feed", "stocks", "--duration", str(plan.seconds)),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert bystanders.stdin is not None
    attackers: list[Attacker] = []
    sending: asyncio.Task[None] | None = None
    try:
        await event(bystanders, "connected", timeout)
        if attack is not None:
            attackers = await connect(port, attack, seen)
        bystanders.stdin.write(b"go\n")
        await event(bystanders, "window", timeout)
        meter = Meter(server)
        if attack is not None:
            sending = asyncio.create_task(send(attackers, attack))
        report = await event(bystanders, "result", timeout)
        cpu = meter.shares()
    finally:
        await stop(sending, attackers, seen, server)
        bystanders.stdin.close()
        await asyncio.wait_for(bystanders.wait(), timeout)
    return Window.of(report, plan.clients, cpu, server.memory_info().rss), seen


@dataclass(frozen=True)
class Outcome:
    attack: Attack
    alone: Window
    attacked: Window
    seen: Seen


async def scenario(attack: Attack, plan: Plan) -> Outcome:
    """A server of its own: the bystanders alone, then (the history filled, for a replay) beside the attack."""
    with running_server("ours", Scenario(plan.clients, TICK_HZ), attack.server_args) as (process, port):
        started = time.monotonic()
        # The server process itself, not taskset's wrapper (taskset execs, so the pid is the same).
        server = psutil.Process(process.pid)
        alone, _ = await measure(port, server, plan, None)
        if attack.replays:
            await asyncio.sleep(plan.history_warmup - (time.monotonic() - started))
        attacked, seen = await measure(port, server, plan, attack)
    return Outcome(attack, alone, attacked, seen)


def percent(fraction: float) -> str:
    return f"{100 * fraction:.1f}%"


def ms(seconds: float) -> str:
    return f"{MS_PER_SECOND * seconds:.1f}"


def describe(seen: Seen) -> str:
    """What the attack sent and got, in a table cell."""
    parts = [f"{seen.sent:,} sent", f"{seen.bytes_read / MB:,.1f} MB read"]
    if seen.held is not None:
        parts.append(f"first replay {seen.held:,} ticks, {seen.replayed:,} replayed in all, {seen.cut:,} replays cut")
    parts.append(", ".join(f"{count:,} {reply}" for reply, count in seen.replies.most_common()) or "no reply")
    if seen.closed:
        parts.append("closed: " + ", ".join(f"{count:,} x {code}" for code, count in sorted(seen.closed.items())))
    if seen.closed_by_server:
        parts.append(f"{seen.closed_by_server:,} closed by the server")
    return "; ".join(parts)


HEADER = (
    "| scenario | attacking connections | delivered alone | p50 ms | p99 ms "
    "| delivered attacked | p50 ms | p99 ms | gaps | server CPU | rest of core 0 | server RSS MB "
    "| core 1: loadgen, attackers | the attack | target |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def shift(before: float, after: float, unit: str = "%", scale: float = 100) -> str:
    """A figure alone and attacked, in a table cell."""
    return f"{scale * before:,.0f}{unit} -> {scale * after:,.0f}{unit}"


def row(outcome: Outcome) -> str:
    alone, attacked = outcome.alone, outcome.attacked
    return (
        f"| {outcome.attack.name} | {outcome.attack.connections:,} | {percent(alone.delivered)} | {ms(alone.lag_p50)} "
        f"| {ms(alone.lag_p99)} | {percent(attacked.delivered)} | {ms(attacked.lag_p50)} | {ms(attacked.lag_p99)} "
        f"| {shift(alone.gaps, attacked.gaps, '', 1)} | {shift(alone.cpu.server, attacked.cpu.server)} "
        f"| {shift(alone.cpu.others, attacked.cpu.others)} "
        f"| {shift(alone.server_rss, attacked.server_rss, '', 1 / MB)} "
        f"| {100 * attacked.loadgen_cpu:.0f}%, {100 * attacked.cpu.attackers:.0f}% "
        f"| {describe(outcome.seen)} | {'met' if attacked.met else 'not met'} |"
    )


def target(outcome: Outcome) -> str:
    attack, attacked = outcome.attack, outcome.attacked
    count = f"{attack.connections:,} connection{'s' if attack.connections > 1 else ''}"
    goal = f"at least {percent(TARGET_DELIVERED)} of ticks, p99 under {ms(TARGET_P99_SECONDS)} ms"
    return check(
        f"{attack.name} ({count}): {goal}",
        attacked.met,
        f"{percent(attacked.delivered)}, p99 {ms(attacked.lag_p99)} ms",
    )


async def scenarios(attacks: Sequence[Attack], plan: Plan) -> list[Outcome]:
    outcomes = []
    for attack in attacks:
        outcome = await scenario(attack, plan)
        outcomes.append(outcome)
        print(row(outcome), flush=True)
    return outcomes


# The worst shapes of message: the attacks' and the largest of tests/test_fuzz.py's garbage_text.
SHAPES = (
    ("a ping with an id (for scale)", message(op="ping", id=1).decode()),
    (f"subscribe with history {HISTORY_TICKS}", REPLAY[0].decode()),
    (f"ping, an id of {EMPTY_LISTS:,} empty lists", PING_LISTS.decode()),
    (f"ping, an id of {ZEROS:,} zeros", PING_ZEROS.decode()),
    (f"subscribe to an unknown feed, an id of {EMPTY_LISTS:,} empty lists", UNKNOWN_FEED_LISTS.decode()),
    ("fuzz: 5,000 nested lists", "[" * 5000 + "]" * 5000),
    ("fuzz: 3,000 nested objects", '{"a":' * 3000 + "1" + "}" * 3000),
    ("fuzz: an id of 5,000 digits", '{"op": "ping", "id": ' + "9" * 5000 + "}"),
    ("fuzz: a feed name of 20,000 'é'", '{"op": "subscribe", "feed": "' + "é" * 20000 + '"}'),
)


def outcome_of(text: str) -> str:
    """What parse_request makes of ``text``: accepted, or the error's code."""
    try:
        parse_request(text)
    except ProtocolError as exc:
        return exc.code.value
    return "accepted"


def parse_times(text: str, runs: int, collector: bool) -> list[float]:
    """What parse_request took on ``text``, ``runs`` times, in seconds; with the cyclic collector on at the server's
    threshold, or off (timeit's default, the parsing alone)."""

    def once() -> None:
        with contextlib.suppress(ProtocolError):
            parse_request(text)

    thresholds = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *thresholds[1:])
    try:
        return timeit.repeat(once, setup=gc.enable if collector else "pass", number=1, repeat=runs)
    finally:
        gc.set_threshold(*thresholds)


def parse_costs(runs: int) -> str:
    lines = [
        f"| message | bytes | parse_request µs, least of {runs} | with the collector on: least | median | outcome |",
        "|---|---|---|---|---|---|",
    ]
    for label, text in SHAPES:
        size = len(text.encode())
        assert size <= DEFAULTS.max_message_bytes, f"{label}: {size} bytes, over the server's limit"
        alone = min(parse_times(text, runs, collector=False))
        collected = parse_times(text, runs, collector=True)
        figures = (alone, min(collected), statistics.median(collected))
        cells = " | ".join(f"{US_PER_SECOND * figure:,.1f}" for figure in figures)
        lines.append(f"| {label} | {size:,} | {cells} | {outcome_of(text)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=WINDOW_SECONDS, help="each window's length (default 20)")
    parser.add_argument("--bystanders", type=int, default=BYSTANDERS, help="well-behaved clients (default 1000)")
    parser.add_argument("--only", choices=[attack.name for attack in ATTACKS], action="append", help="run only these")
    parser.add_argument(
        "--history-warmup",
        type=float,
        default=HISTORY_WARMUP_SECONDS,
        help="seconds from a server's start to its replay attack, at the least: the history fills meanwhile, 20 "
        "ticks a second (default 30; 1800 for a full history)",
    )
    parser.add_argument("--parse-runs", type=int, default=PARSE_RUNS, help="timings of parse_request per shape")
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    if cpus >= 2:
        os.sched_setaffinity(0, {LOADGEN_CORE})  # the attackers beside the bystanders; the server has core 0
    print(
        f"# {cpus} cores; server on core {SERVER_CORE}, bystanders and attackers on core {LOADGEN_CORE}"
        if cpus >= 2
        else "# 1 core: server, bystanders and attackers share it"
    )
    print(
        f"# {args.bystanders:,} bystanders on stocks (20 symbols, JSON) at {TICK_HZ:g} Hz; "
        f"windows of {args.seconds:g} s, alone then attacked; replays start {args.history_warmup:g} s "
        "after their server at the earliest"
    )
    chosen = [attack for attack in ATTACKS if not args.only or attack.name in args.only]
    for attack in chosen:
        print(f"# {attack.name}: {attack.connections:,} x {attack.summary}")
    print(
        "# a -> b: alone -> attacked; rest of core 0: its share not spent in the server (other processes, interrupts)"
    )
    print(HEADER, flush=True)
    plan = Plan(args.bystanders, args.seconds, args.history_warmup)
    outcomes: list[Outcome] = uvloop.run(scenarios(chosen, plan))
    print()
    for outcome in outcomes:
        print(target(outcome))
    print()
    print(parse_costs(args.parse_runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
