"""What travels through Redis between nodes: a tick's frames as the leader encoded them, or a feed's status.

A tick is one byte string, the same in the feed's stream and on its live channel: a fixed header (kind, run, seq,
ts, and two lengths), the names of its fields joined by commas (a field name has none, `feeds.feed.FIELD_PATTERN`),
then its JSON frame and its binary frame, whole: a node writes those very bytes to its clients and encodes nothing
again. A status is its JSON (the fields of `feeds.status.FeedStatus.to_json`) after a kind byte. Reading checks
every length, so that a malformed message is refused with `WireError`, never half-read.
"""

from __future__ import annotations

import struct

import orjson

from feeds.codec import decode_binary
from feeds.encoded import EncodedTick
from feeds.frames import payload_of
from feeds.status import FeedStatus, Health

__all__ = ["FieldNames", "WireError", "read", "status_message", "tick_message", "values_of"]

_TICK = b"t"
_STATUS = b"s"
# kind, run, seq, ts, bytes of the field names, bytes of the JSON frame; the binary frame is the rest.
_HEADER = struct.Struct("<cIQdII")
_SEPARATOR = ","


class WireError(ValueError):
    """A message from Redis that is not one this server writes."""


class FieldNames:
    """A feed's field names as read from its messages, shared by all its ticks (as the producer's are) while they
    do not change, so that a node holds one tuple per feed, not one per held tick."""

    def __init__(self) -> None:
        self._raw = b""
        self._names: tuple[str, ...] = ()

    def of(self, raw: bytes) -> tuple[str, ...]:
        if raw != self._raw:
            self._raw = raw
            self._names = tuple(raw.decode().split(_SEPARATOR)) if raw else ()
        return self._names


def tick_message(tick: EncodedTick) -> bytes:
    """``tick``, encoded by its leader, as it is appended to the stream and published."""
    names = _SEPARATOR.join(tick.fields).encode()
    header = _HEADER.pack(_TICK, tick.run, tick.seq, tick.ts, len(names), len(tick.json))
    return b"".join((header, names, tick.json, tick.binary))


def status_message(status: FeedStatus) -> bytes:
    return _STATUS + orjson.dumps(status.to_json())


def read(feed: str, message: bytes, names: FieldNames) -> EncodedTick | FeedStatus:
    """A message of ``feed``'s back into what the hub delivers; `WireError` when it is malformed."""
    kind = message[:1]
    if kind == _TICK:
        return _read_tick(feed, message, names)
    if kind == _STATUS:
        try:
            data = orjson.loads(message[1:])
            return FeedStatus(feed, Health(data["status"]), int(data["failures"]), data["error"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise WireError(f"malformed status of feed {feed}: {exc}") from None
    raise WireError(f"unknown message kind {kind!r} on feed {feed}")


def _read_tick(feed: str, message: bytes, names: FieldNames) -> EncodedTick:
    if len(message) < _HEADER.size:
        raise WireError(f"tick of feed {feed} shorter than its header ({len(message)} bytes)")
    _, run, seq, ts, names_length, json_length = _HEADER.unpack_from(message)
    json_start = _HEADER.size + names_length
    binary_start = json_start + json_length
    if binary_start >= len(message):
        raise WireError(f"tick of feed {feed} shorter than its lengths say ({len(message)} bytes)")
    try:
        fields = names.of(message[_HEADER.size : json_start])
    except UnicodeDecodeError:
        raise WireError(f"tick of feed {feed} has field names that are not UTF-8") from None
    return EncodedTick(feed, run, seq, ts, fields, message[json_start:binary_start], message[binary_start:])


def values_of(tick: EncodedTick) -> dict[str, float]:
    """A tick's values by field name, read back from its binary frame (what a new leader hands its feed)."""
    decoded = decode_binary(payload_of(tick.binary), tick.fields)
    return dict(zip(tick.fields, decoded.values, strict=True))
