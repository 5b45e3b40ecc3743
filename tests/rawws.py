"""A bare WebSocket client on asyncio streams, for tests that need the raw bytes or a client that stops reading."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct

import orjson

from feeds.frames import Opcode

CLOSE = 0x8
PING = 0x9


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(
        cls, port: int, receive_buffer: int | None = None, read_limit: int = 1 << 16, source: str = "127.0.0.1"
    ) -> RawClient:
        """Handshake with ``/ws``; ``receive_buffer`` shrinks the socket's kernel buffer (a client that fills fast);
        ``source`` is the client's address (any of 127.0.0.0/8)."""
        client, response = await cls.handshake(port, receive_buffer, read_limit, source)
        assert client is not None, response
        return client

    @classmethod
    async def handshake(
        cls, port: int, receive_buffer: int | None = None, read_limit: int = 1 << 16, source: str = "127.0.0.1"
    ) -> tuple[RawClient | None, bytes]:
        """Try a handshake: the client if the server upgraded, and the response's head."""
        sock = socket.socket()
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.bind((source, 0))
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=read_limit)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        response = await reader.readuntil(b"\r\n\r\n")
        if response.startswith(b"HTTP/1.1 101"):
            return cls(reader, writer), response
        writer.close()
        return None, response

    def send_json(self, message: object) -> None:
        """A masked text frame, as clients must send."""
        self.send_frame(0x80 | Opcode.TEXT, orjson.dumps(message))

    def send_frame(self, first: int, payload: bytes, masked: bool = True, length: int | None = None) -> None:
        """Any frame: ``first`` is its first byte (FIN, RSV bits, opcode); ``length`` may lie about the payload's."""
        length = len(payload) if length is None else length
        mask = os.urandom(4) if masked else b""
        if length < 126:
            header = bytes((first, (0x80 if masked else 0) | length))
        else:
            header = bytes((first, (0x80 if masked else 0) | 126)) + struct.pack("!H", length)
        body = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload)) if masked else payload
        self.writer.write(header + mask + body)

    async def read_close(self) -> tuple[int, str]:
        """Read until the server's Close frame: its code and reason."""
        while True:
            opcode, payload, _ = await self.read_frame()
            if opcode == CLOSE:
                (code,) = struct.unpack("!H", payload[:2])
                return code, payload[2:].decode()

    async def read_frame(self, pings: bool = False) -> tuple[int, bytes, bytes]:
        """The next frame: opcode, payload, and the frame's raw bytes; the server's pings only if ``pings``."""
        while True:
            opcode, payload, wire = await self._read_any_frame()
            if pings or opcode != PING:
                return opcode, payload, wire

    async def _read_any_frame(self) -> tuple[int, bytes, bytes]:
        header = await self.reader.readexactly(2)
        length = header[1] & 0x7F
        extra = b""
        if length == 126:
            extra = await self.reader.readexactly(2)
            (length,) = struct.unpack("!H", extra)
        elif length == 127:
            extra = await self.reader.readexactly(8)
            (length,) = struct.unpack("!Q", extra)
        payload = await self.reader.readexactly(length)
        return header[0] & 0x0F, payload, header + extra + payload

    def send_close(self, code: int = 1000) -> None:
        """A masked Close frame (zero mask), answering or starting the closing handshake."""
        self.writer.write(bytes((0x80 | CLOSE, 0x80 | 2)) + bytes(4) + struct.pack("!H", code))

    def close(self) -> None:
        self.writer.close()
