"""What the hub delivers: a tick or a feed's status change, encoded and framed once, immutable.

Encoding and delivery are two steps (see `feeds.hub`): a tick is encoded once, where it is produced, into the
WebSocket frame of every format; delivery hands those very bytes to each subscriber of the format. A feed's
history keeps these records, so that a replay encodes nothing again; a broker (none yet: issue 19) is to carry their
bytes between the two steps, so that another node does not either.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable
from dataclasses import dataclass

from .codec import Format, encode_binary, encode_json, encode_status
from .frames import Opcode, frame
from .status import FeedStatus
from .tick import Tick

__all__ = ["Encoded", "EncodedStatus", "EncodedTick", "encode_event"]


@dataclass(frozen=True, slots=True)
class EncodedTick:
    """A tick as it goes out and as a feed's history holds it: its identity (feed, run, seq, ts), the names of its
    fields (the tuple the feed's producer shares among all its ticks) and its frame in each format; not its values,
    which live on in the frames (a held tick costs its frames and little more)."""

    feed: str
    run: int
    seq: int
    ts: float
    fields: tuple[str, ...]
    json: bytes
    binary: bytes

    @classmethod
    def of(cls, tick: Tick) -> EncodedTick:
        return cls(
            tick.feed,
            tick.run,
            tick.seq,
            tick.ts,
            tick.fields,
            frame(encode_json(tick), Opcode.TEXT),
            frame(encode_binary(tick), Opcode.BINARY),
        )

    @property
    def key(self) -> Hashable:
        """Shared by a feed's ticks: a connection that cannot keep up may keep only the newest of them."""
        return _tick_key(self.feed)

    def frame(self, fmt: Format) -> bytes:
        """The frame for subscribers of ``fmt``."""
        return self.json if fmt is Format.JSON else self.binary


@dataclass(frozen=True, slots=True)
class EncodedStatus:
    """A feed's status change as a JSON text frame, sent as text whatever a subscription's format. ``key`` is shared
    by a feed's statuses: only the newest matters."""

    status: FeedStatus
    text: bytes
    key: Hashable

    @classmethod
    def of(cls, status: FeedStatus) -> EncodedStatus:
        return cls(status, frame(encode_status(status), Opcode.TEXT), ("status", status.feed))

    @property
    def feed(self) -> str:
        return self.status.feed

    def frame(self, fmt: Format) -> bytes:
        return self.text


Encoded = EncodedTick | EncodedStatus


@functools.cache
def _tick_key(feed: str) -> tuple[str, str]:
    # One tuple per feed, not per tick (feeds are few, and named at start).
    return ("tick", feed)


def encode_event(event: Tick | FeedStatus) -> Encoded:
    """A tick or a status change, encoded for delivery."""
    return EncodedTick.of(event) if isinstance(event, Tick) else EncodedStatus.of(event)
