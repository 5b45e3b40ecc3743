"""Wire formats of a tick: JSON text (orjson) and the binary layout described in docs/protocol.md.

Encoding is pure bytes-in, bytes-out so that the hub can encode a tick once per format and hand the same bytes to
every subscriber.
"""

from __future__ import annotations

import enum
import struct
import sys
from array import array

import orjson

from .status import FeedStatus
from .tick import Tick

__all__ = [
    "BINARY_VERSION",
    "Format",
    "decode_binary",
    "encode",
    "encode_binary",
    "encode_feed_added",
    "encode_json",
    "encode_status",
]

BINARY_VERSION = 1
# version, reserved, name length, value count, seq, ts, run, reserved: see docs/protocol.md.
_HEADER = struct.Struct("<BBHIQdII")
_ALIGNMENT = 8


class Format(enum.Enum):
    """The formats a client may subscribe with."""

    JSON = "json"
    BINARY = "binary"


def encode_json(tick: Tick) -> bytes:
    """The tick as a JSON ``data`` message."""
    return orjson.dumps(
        {
            "op": "data",
            "feed": tick.feed,
            "run": tick.run,
            "seq": tick.seq,
            "ts": tick.ts,
            "values": dict(zip(tick.fields, tick.values, strict=True)),
        }
    )


def encode_binary(tick: Tick) -> bytes:
    """The tick as a binary frame whose values a browser reads with one ``Float64Array`` view."""
    name = tick.feed.encode()
    padding = -len(name) % _ALIGNMENT
    header = _HEADER.pack(BINARY_VERSION, 0, len(name), len(tick.values), tick.seq, tick.ts, tick.run, 0)
    values = array("d", tick.values)
    if sys.byteorder == "big":
        values.byteswap()  # the wire is little-endian whatever this machine is
    return b"".join((header, name, bytes(padding), values.tobytes()))


def encode_status(status: FeedStatus) -> bytes:
    """A feed's status change as a JSON ``status`` message (sent as text whatever the subscription's format)."""
    return orjson.dumps({"op": "status", "feed": status.feed, **status.to_json()})


def encode_feed_added(feed: str) -> bytes:
    """The server serves one more feed (in a cluster: a machine that joined): a JSON ``feed_added`` message."""
    return orjson.dumps({"op": "feed_added", "feed": feed})


def encode(tick: Tick, fmt: Format) -> bytes:
    """The tick in the given format."""
    return encode_json(tick) if fmt is Format.JSON else encode_binary(tick)


def decode_binary(frame: bytes, fields: tuple[str, ...] = ()) -> Tick:
    """Read a binary frame back into a tick (for Python clients and tests); ``fields`` names the values."""
    version, _, name_length, count, seq, ts, run, _ = _HEADER.unpack_from(frame)
    if version != BINARY_VERSION:
        raise ValueError(f"unsupported binary frame version {version}")
    offset = _HEADER.size + name_length + (-name_length % _ALIGNMENT)
    if len(frame) != offset + 8 * count:
        raise ValueError(f"binary frame of {len(frame)} bytes does not hold {count} values")
    feed = bytes(frame[_HEADER.size : _HEADER.size + name_length]).decode()
    values = struct.unpack_from(f"<{count}d", frame, offset)
    return Tick(feed, run, seq, ts, fields, values)
