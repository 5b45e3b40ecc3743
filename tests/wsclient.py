"""A small test client over a real WebSocket connection (Tornado's client), for the protocol tests."""

from __future__ import annotations

from collections import deque
from typing import Any

import orjson
from tornado.websocket import WebSocketClientConnection, websocket_connect

from feeds.codec import decode_binary
from feeds.tick import Tick


class Client:
    """One connection; ``fields`` remembers each subscription's field names to decode binary ticks."""

    def __init__(self, connection: WebSocketClientConnection) -> None:
        self.connection = connection
        self.fields: dict[str, tuple[str, ...]] = {}
        # Ticks that arrived while waiting for a reply, kept for `tick()` so that no seq goes missing.
        self._ticks: deque[str | bytes] = deque()
        # Status changes pushed by the server, in order; they are events, not replies.
        self.statuses: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, port: int, **kwargs: Any) -> Client:
        return cls(await websocket_connect(f"ws://127.0.0.1:{port}/ws", **kwargs))

    def send(self, message: Any) -> None:
        self.connection.write_message(
            message if isinstance(message, (str, bytes)) else orjson.dumps(message).decode(),
            binary=isinstance(message, bytes),
        )

    async def receive(self) -> str | bytes:
        """The next frame as it came; fails if the server closed the connection."""
        frame = await self.connection.read_message()
        assert frame is not None, f"connection closed: {self.connection.close_code} {self.connection.close_reason}"
        return frame

    async def reply(self) -> dict[str, Any]:
        """The next message that is not a tick (subscribed, pong, error, ...)."""
        while True:
            frame = await self.receive()
            message: dict[str, Any] = {} if isinstance(frame, bytes) else orjson.loads(frame)
            if message.get("op", "data") == "data":
                self._ticks.append(frame)
                continue
            if message["op"] == "status":
                self.statuses.append(message)
                continue
            if message["op"] == "subscribed":
                self.fields[message["feed"]] = tuple(message["fields"])
            return message

    async def request(self, message: Any) -> dict[str, Any]:
        self.send(message)
        return await self.reply()

    async def subscribe(self, feed: str, fmt: str = "json") -> dict[str, Any]:
        reply = await self.request({"op": "subscribe", "feed": feed, "format": fmt})
        assert reply["op"] == "subscribed", reply
        return reply

    def forget_buffered_ticks(self) -> None:
        """Drop the ticks that arrived before the last reply, to look only at what the server sent after it."""
        self._ticks.clear()

    async def tick(self) -> tuple[Tick, str | bytes]:
        """The next tick of any subscribed feed, decoded, with the frame it came in."""
        while True:
            frame = self._ticks.popleft() if self._ticks else await self.receive()
            if isinstance(frame, bytes):
                tick = decode_binary(frame)
                return decode_binary(frame, self.fields[tick.feed]), frame
            message = orjson.loads(frame)
            if message["op"] == "status":
                self.statuses.append(message)
            elif message["op"] == "data":
                values = message["values"]
                tick = Tick(
                    message["feed"],
                    message["run"],
                    message["seq"],
                    message["ts"],
                    tuple(values),
                    tuple(values.values()),
                )
                return tick, frame

    async def ticks(self, count: int, feed: str | None = None) -> list[Tick]:
        """The next ``count`` ticks (of ``feed`` only, when given)."""
        ticks: list[Tick] = []
        while len(ticks) < count:
            tick, _ = await self.tick()
            if feed is None or tick.feed == feed:
                ticks.append(tick)
        return ticks

    def close(self) -> None:
        self.connection.close()
