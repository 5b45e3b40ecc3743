"""``make bench``'s reconnect scenario: many clients lose their connections at once, and come back.

5,000 clients subscribe to the stocks feed (binary). Then, twice:

- **cut**: every client's connection is destroyed from outside (``ss -K``, as a network that drops them would),
  while the server stays up;
- **restart**: the server gets SIGTERM (it closes every connection with 1001) and a successor starts on the same
  port.

Each client reconnects with the page's backoff (full jitter over an exponential ceiling, 250 ms doubling up to
10 s: web/js/socket.js) and subscribes again with ``since`` and ``run`` of the last tick it had. The scenario
reports how long until every client was back and resumed, the ticks each missed (seq jumps within a run: 0 after a
cut, where the server's history fills the hole), how many were told ``gap`` (a restart starts a new run), and how
long the SIGTERM took with every client connected. Server on core 0, clients on core 1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import orjson
import uvloop

ROOT = Path(__file__).resolve().parent.parent
BACKOFF_BASE = 0.25  # web/js/socket.js: BACKOFF_BASE_MS
BACKOFF_CAP = 10.0  # BACKOFF_CAP_MS
START_TIMEOUT = 30.0
SETTLE_SECONDS = 2.0  # after the last client resumed: time for ticks to show any hole
TICK_HEADER = struct.Struct("<Q8xI")  # a binary tick's seq (offset 8) and run (offset 24), from offset 8


def backoff(attempt: int) -> float:
    return float(random.random() * min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(attempt, 10)))


class Client(asyncio.Protocol):
    """One reconnecting client: it resumes from the last (run, seq) it had."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False
        self.run: int | None = None
        self.seq = 0
        self.attempt = 0
        self.resumed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        host = f"127.0.0.1:{self.fleet.port}"
        transport.write(  # type: ignore[attr-defined]
            f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def subscribe(self) -> None:
        start = {} if self.run is None else {"since": self.seq, "run": self.run}
        payload = orjson.dumps({"op": "subscribe", "feed": "stocks", "format": "binary", **start})
        assert self.transport is not None
        header = (
            bytes((0x81, 0x80 | 126)) + len(payload).to_bytes(2, "big")
            if len(payload) >= 126
            else bytes((0x81, 0x80 | len(payload)))
        )
        self.transport.write(header + b"\x00\x00\x00\x00" + payload)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                assert self.transport is not None
                self.transport.close()  # 503 and such: try again later
                return
            self.upgraded = True
            buffer = buffer[end + 4 :]
            self.subscribe()
        offset = 0
        while len(buffer) - offset >= 2:
            length, start = buffer[offset + 1] & 0x7F, offset + 2
            if length == 126:
                if len(buffer) - offset < 4:
                    break
                length, start = int.from_bytes(buffer[start : start + 2], "big"), start + 2
            elif length == 127:
                if len(buffer) - offset < 10:
                    break
                length, start = int.from_bytes(buffer[start : start + 8], "big"), start + 8
            if start + length > len(buffer):
                break
            self.frame(buffer[offset] & 0x0F, buffer[start : start + length])
            offset = start + length
        self.buffer = buffer[offset:]

    def frame(self, opcode: int, payload: bytes) -> None:
        if opcode == 0x2:
            seq, run = TICK_HEADER.unpack_from(payload, 8)
            if run == self.run and seq > self.seq + 1:
                self.fleet.missed += seq - self.seq - 1
            elif run == self.run and seq <= self.seq:
                self.fleet.repeated += 1
            if run != self.run or seq > self.seq:
                self.run, self.seq = run, seq
        elif opcode == 0x8 and self.transport is not None:
            # Answer a Close frame, as browsers and client libraries do, then let the server end the connection.
            self.transport.write(
                bytes(
                    (0x88, 0x80 | len(payload[:2])),
                )
                + b"\x00\x00\x00\x00"
                + payload[:2]
            )
        elif opcode == 0x1:
            message = orjson.loads(payload)
            if message.get("op") == "subscribed":
                self.attempt = 0
                self.fleet.replayed += message["replayed"]
                self.fleet.gaps += bool(message["gap"])
                if not self.resumed.done():
                    self.resumed.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport, self.buffer, self.upgraded = None, b"", False
        if self.fleet.running:
            asyncio.get_running_loop().call_later(backoff(self.attempt), self.fleet.reconnect, self)
            self.attempt += 1


class Fleet:
    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.clients = [Client(self) for _ in range(count)]
        self.running = True
        self.missed = self.replayed = self.gaps = self.repeated = 0
        self._connecting: set[asyncio.Future[None]] = set()

    def reconnect(self, client: Client) -> None:
        task = asyncio.ensure_future(self._connect(client))
        self._connecting.add(task)  # held until done: the loop keeps only a weak reference to a task
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, client: Client) -> None:
        try:
            await asyncio.get_running_loop().create_connection(lambda: client, "127.0.0.1", self.port)
        except OSError:
            client.connection_lost(None)  # refused (the server is down): back off, try again

    def expect_resume(self) -> None:
        loop = asyncio.get_running_loop()
        for client in self.clients:
            client.resumed = loop.create_future()
        self.missed = self.replayed = self.gaps = self.repeated = 0

    async def resumed(self) -> float:
        started = time.perf_counter()
        await asyncio.gather(*(client.resumed for client in self.clients))
        return time.perf_counter() - started


def start_server(port: int) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "server.py",
        "--port",
        str(port),
        "--max-connections",
        "0",
        "--max-connections-per-ip",
        "0",
        "--max-http-rate",
        "0",
    ]
    server = subprocess.Popen(
        ["taskset", "-c", "0", *command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert server.stdout is not None
    if not server.stdout.readline().startswith("listening on "):
        raise RuntimeError("the server did not start")
    return server


def exit_time(server: subprocess.Popen[str], started: float) -> float:
    server.wait(30)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def scenario(clients: int) -> dict[str, object]:
    port = free_port()
    server = start_server(port)
    fleet = Fleet(port, clients)
    report: dict[str, object] = {"clients": clients}
    try:
        fleet.expect_resume()
        for index, client in enumerate(fleet.clients):
            fleet.reconnect(client)
            if index % 100 == 99:
                await asyncio.sleep(0)  # let handshakes through, as the bench's load generator does
        await fleet.resumed()
        await asyncio.sleep(SETTLE_SECONDS)

        fleet.expect_resume()
        cut = subprocess.run(
            ["ss", "-K", "dst", "127.0.0.1", "dport", "=", str(port)], capture_output=True, text=True, check=False
        )
        if cut.returncode != 0:
            report["cut"] = "not measured: ss -K failed (it needs root and a kernel with INET_DIAG_DESTROY)"
        else:
            seconds = await fleet.resumed()
            await asyncio.sleep(SETTLE_SECONDS)
            report["cut"] = {
                "back_seconds": seconds,
                "missed_per_client": fleet.missed / clients,
                "repeated": fleet.repeated,
                "replayed_per_client": fleet.replayed / clients,
                "told_gap": fleet.gaps,
            }

        fleet.expect_resume()
        started = time.perf_counter()
        server.send_signal(signal.SIGTERM)
        # Waited for off the event loop, and timed in that thread: the clients must go on reading and answering
        # the server's Close frames, which keeps the loop too busy to time the exit itself.
        shutdown = await asyncio.get_running_loop().run_in_executor(None, exit_time, server, started)
        server = start_server(port)
        seconds = await fleet.resumed()
        await asyncio.sleep(SETTLE_SECONDS)
        report["restart"] = {
            "shutdown_seconds": shutdown,
            "back_seconds": seconds,
            "missed_per_client": fleet.missed / clients,
            "told_gap": fleet.gaps,
        }
    finally:
        fleet.running = False
        server.send_signal(signal.SIGTERM)
        await asyncio.get_running_loop().run_in_executor(None, server.wait, 30)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=5000)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})  # the clients on core 1, the server on core 0
    print(orjson.dumps(uvloop.run(scenario(args.clients))).decode())


if __name__ == "__main__":
    main()
