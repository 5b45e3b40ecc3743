"""Peer: the raw asyncio floor. A hand-made handshake, one pre-built frame a tick, transport.write to every socket.

No framework, no per-client work beyond the write: what Python can do at all on this machine.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json

from bench.peers.common import TickSource, parse_args
from feeds.frames import Opcode, frame

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
subscribers: dict[str, list[asyncio.Transport]] = {"json": [], "binary": []}


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        for group in subscribers.values():
            if self.transport in group:
                group.remove(self.transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            headers = dict(line.split(b": ", 1) for line in self.buffer[:end].split(b"\r\n")[1:] if b": " in line)
            key = {name.lower(): value for name, value in headers.items()}[b"sec-websocket-key"]
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.upgraded = True
            self.buffer = self.buffer[end + 4 :]
        # Client frames here are short subscribe messages: a 2-byte header, a 4-byte mask, the payload.
        while len(self.buffer) >= 6 and len(self.buffer) >= 6 + (self.buffer[1] & 0x7F):
            length = self.buffer[1] & 0x7F
            mask, payload = self.buffer[2:6], self.buffer[6 : 6 + length]
            self.buffer = self.buffer[6 + length :]
            text = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
            subscribers[json.loads(text).get("format", "json")].append(self.transport)


async def main() -> None:
    args = parse_args(__doc__)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Connection, args.host, args.port, backlog=2048)
    port = server.sockets[0].getsockname()[1]
    source = TickSource(args.symbols, args.interval)
    print(f"listening on http://{args.host}:{port}/", flush=True)
    deadline = loop.time()
    while True:
        deadline += args.interval
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        current = source.next_tick()
        for fmt, opcode in (("json", Opcode.TEXT), ("binary", Opcode.BINARY)):
            if subscribers[fmt]:
                data = frame(source.payload(current, fmt), opcode)
                for transport in subscribers[fmt]:
                    transport.write(data)


if __name__ == "__main__":
    asyncio.run(main())
