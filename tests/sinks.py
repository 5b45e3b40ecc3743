"""An in-memory hub subscriber for tests without sockets: it keeps every frame it is given, and its key."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import orjson

from feeds.codec import Format
from feeds.frames import Opcode, payload_of
from feeds.history import Replay

# The key of a replayed tick's frame, as a sink keeps it.
REPLAYED = ("replayed",)


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[bytes, Hashable | None]] = []
        self.writes = 0
        self.failed = 0
        self.closed_with: list[tuple[int, str]] = []

    def send(self, data: bytes, key: Hashable | None = None) -> None:
        self.messages.append((data, key))
        self.writes += 1

    def send_many(self, frames: Sequence[tuple[bytes, Hashable]]) -> None:
        self.messages.extend(frames)
        self.writes += 1

    def send_replay(self, replay: Replay, fmt: Format) -> None:
        self.messages.extend((tick.frame(fmt), REPLAYED) for tick in replay)
        self.writes += 1

    def fail(self) -> None:
        self.failed += 1

    def close_connection(self, code: int, reason: str) -> None:
        self.closed_with.append((code, reason))

    def replies(self) -> list[Any]:
        """The JSON messages among the frames (replies, errors, statuses, JSON ticks), decoded, in order."""
        return [orjson.loads(payload(data)) for data, _ in self.messages if data[0] & 0x0F == Opcode.TEXT]


def payload(data: bytes) -> bytes:
    """The payload of one unmasked frame as `feeds.frames.frame` builds it."""
    return payload_of(data)
