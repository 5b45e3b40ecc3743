"""The benchmark's load generator: N WebSocket clients on raw asyncio protocols, in one process.

Driven by bench/run.py over stdin and stdout, one JSON object a line:

1. connects N clients (at most ``--in-flight`` handshakes at a time), then prints ``{"event": "connected", ...}``
   and waits for a line on stdin (the orchestrator measures the server's memory with N idle connections);
2. subscribes every client to each ``--feed``, waits ``--warmup`` seconds, prints ``{"event": "window"}``, counts
   for ``--duration`` seconds, and prints ``{"event": "result", ...}``: messages, seq gaps, latency percentiles
   from each tick's ``ts`` to its receipt, and this process's own CPU time, so a saturated load generator shows.

It runs on uvloop, parses frames in bulk from each socket's buffer, and keeps the latency of every message (from
the binary header, or with one regular expression on the JSON text), so that it stays far from being the
bottleneck; its CPU share is reported with every result.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import struct
import sys
import time
from array import array
from typing import cast

import orjson
import uvloop

JSON_TICK = re.compile(rb'"seq":(\d+),"ts":([0-9.eE+-]+)')
BINARY_TICK = struct.Struct("<Qd")  # seq and ts at offset 8 of a binary tick's payload
MASK = b"\x00\x00\x00\x00"  # a zero mask: valid, and the payload stays readable


class Totals:
    """What all clients received during the measurement window."""

    def __init__(self) -> None:
        self.counting = False
        self.messages = 0
        self.gaps = 0
        self.latencies = array("d")


class Client(asyncio.Protocol):
    def __init__(  # noqa: PLR0917 (the protocol factory passes them all)
        self, totals: Totals, host: str, port: int, ready: asyncio.Future[None], by_feed: bool, path: str
    ) -> None:
        self.totals = totals
        self.path = path
        self.by_feed = by_feed  # with one feed, seq is checked without reading the feed's name
        self.host = f"{host}:{port}"
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False
        self.last_seq: dict[bytes, int] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{self.host}\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"connection lost during the handshake: {exc}"))

    def send_text(self, payload: bytes) -> None:
        assert self.transport is not None and len(payload) < 126
        self.transport.write(bytes((0x81, 0x80 | len(payload))) + MASK + payload)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(buffer[:end].decode(errors="replace")))
                return
            self.upgraded = True
            self.ready.set_result(None)
            buffer = buffer[end + 4 :]
        self.buffer = self._frames(buffer)

    def _frames(self, buffer: bytes) -> bytes:  # noqa: PLR0912 (one inlined hot loop: a call per frame costs)
        """Take every complete frame from ``buffer``; return the incomplete rest."""
        totals = self.totals
        counting = totals.counting
        now = time.time()
        offset, size = 0, len(buffer)
        while size - offset >= 2:
            length = buffer[offset + 1] & 0x7F
            start = offset + 2
            if length == 126:
                if size - offset < 4:
                    break
                length = int.from_bytes(buffer[start : start + 2], "big")
                start += 2
            elif length == 127:
                if size - offset < 10:
                    break
                length = int.from_bytes(buffer[start : start + 8], "big")
                start += 8
            end = start + length
            if end > size:
                break
            opcode = buffer[offset] & 0x0F
            if counting:
                name = b""
                if opcode == 0x2:
                    seq, ts = BINARY_TICK.unpack_from(buffer, start + 8)
                    if self.by_feed:
                        name = buffer[start + 32 : start + 32 + int.from_bytes(buffer[start + 2 : start + 4], "little")]
                elif opcode == 0x1:
                    match = JSON_TICK.search(buffer, start, end)
                    if match is None:
                        offset = end
                        continue
                    seq, ts = int(match[1]), float(match[2])
                    if self.by_feed:
                        feed_at = buffer.find(b'"feed":"', start, end) + 8
                        name = buffer[feed_at : buffer.find(b'"', feed_at)]
                else:
                    offset = end
                    continue
                totals.messages += 1
                totals.latencies.append(now - ts)
                last = self.last_seq.get(name)
                if last is not None and seq != last + 1:
                    totals.gaps += 1
                self.last_seq[name] = seq
            offset = end
        return buffer[offset:] if offset < size else b""


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else float("nan")


def emit(event: dict[str, object]) -> None:
    sys.stdout.write(orjson.dumps(event).decode() + "\n")
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    totals = Totals()
    clients: list[Client] = []
    limit = asyncio.Semaphore(args.in_flight)
    path = "/ws" if args.token is None else f"/ws?token={args.token}"

    async def connect_one() -> None:
        async with limit:
            ready: asyncio.Future[None] = loop.create_future()
            _, client = await loop.create_connection(
                lambda: Client(totals, args.host, args.port, ready, len(args.feed) > 1, path), args.host, args.port
            )
            await ready
            clients.append(client)

    started = time.perf_counter()
    await asyncio.gather(*(connect_one() for _ in range(args.clients)))
    connect_seconds = time.perf_counter() - started
    emit({"event": "connected", "clients": len(clients), "seconds": connect_seconds})
    await loop.run_in_executor(None, sys.stdin.readline)

    for feed in args.feed:
        subscribe = orjson.dumps({"op": "subscribe", "feed": feed, "format": args.format})
        for client in clients:
            client.send_text(subscribe)
    await asyncio.sleep(args.warmup)
    for client in clients:
        client.last_seq.clear()
    totals.counting = True
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    emit({"event": "window"})
    await asyncio.sleep(args.duration)
    totals.counting = False
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    latencies = sorted(totals.latencies)
    emit(
        {
            "event": "result",
            "messages": totals.messages,
            "seconds": wall,
            "gaps": totals.gaps,
            "latency_p50": percentile(latencies, 0.50),
            "latency_p99": percentile(latencies, 0.99),
            "latency_max": latencies[-1] if latencies else float("nan"),
            "loadgen_cpu": cpu / wall,
        }
    )
    for client in clients:
        if client.transport is not None:
            client.transport.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--feed", action="append", required=True)
    parser.add_argument("--format", choices=("json", "binary"), default="json")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--in-flight", type=int, default=100, help="handshakes under way at once")
    parser.add_argument("--token", help="present this token (?token=) in every handshake")
    return parser.parse_args()


if __name__ == "__main__":
    uvloop.run(main(parse_args()))
