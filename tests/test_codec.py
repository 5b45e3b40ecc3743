"""feeds.codec: the JSON and binary encodings of a tick (layout in docs/protocol.md)."""

from __future__ import annotations

import re
import struct

import orjson
import pytest

from feeds.codec import Format, decode_binary, encode, encode_binary, encode_json
from feeds.tick import Tick
from tools.harness import ROOT

TICK = Tick("stocks", 3_000_000_001, 2**40 + 5, 1795478400.25, ("AAPL.price", "AAPL.volume"), (191.37, 1200.0))


def test_json_frame_carries_every_key() -> None:
    assert orjson.loads(encode_json(TICK)) == {
        "op": "data",
        "feed": "stocks",
        "run": 3_000_000_001,
        "seq": 2**40 + 5,
        "ts": 1795478400.25,
        "values": {"AAPL.price": 191.37, "AAPL.volume": 1200.0},
    }


def test_the_json_frame_in_the_protocol_doc_is_what_the_codec_writes() -> None:
    """Values are floats, a volume too (``1200.0``): the doc's example is the codec's very text, but for spaces."""
    doc = (ROOT / "docs" / "protocol.md").read_text()
    example = re.search(r'```json\n(\{"op": "data".*?)\n```', doc, re.DOTALL)
    assert example is not None
    shown = orjson.loads(example.group(1))
    values = tuple(float(value) for value in shown["values"].values())  # as the producer hands them on
    tick = Tick(shown["feed"], shown["run"], shown["seq"], shown["ts"], tuple(shown["values"]), values)
    assert encode_json(tick).decode() == re.sub(r"(?<=[:,]) ", "", " ".join(example.group(1).split()))


@pytest.mark.parametrize("name", ["a", "system", "stocks", "eightchr", "a_longer_feed_name"])
def test_binary_values_start_at_a_multiple_of_eight(name: str) -> None:
    tick = Tick(name, 1, 1, 0.5, ("x", "y", "z"), (1.0, -2.5, 3e300))
    frame = encode_binary(tick)
    offset = len(frame) - 8 * 3
    assert offset % 8 == 0
    assert frame[32 : 32 + len(name)] == name.encode()
    assert set(frame[32 + len(name) : offset]) <= {0}
    assert struct.unpack_from("<3d", frame, offset) == (1.0, -2.5, 3e300)


def test_binary_header_layout() -> None:
    frame = encode_binary(TICK)
    version, reserved, name_length, count, seq, ts, run, reserved2 = struct.unpack_from("<BBHIQdII", frame)
    assert (version, reserved, reserved2) == (1, 0, 0)
    assert (name_length, count, seq, ts, run) == (6, 2, 2**40 + 5, 1795478400.25, 3_000_000_001)
    assert len(frame) == 32 + 8 + 2 * 8


def test_binary_round_trip() -> None:
    assert decode_binary(encode_binary(TICK), TICK.fields) == TICK


def test_decode_refuses_a_truncated_frame() -> None:
    with pytest.raises(ValueError, match="does not hold 2 values"):
        decode_binary(encode_binary(TICK)[:-1])


def test_encode_dispatches_on_format() -> None:
    assert encode(TICK, Format.JSON) == encode_json(TICK)
    assert encode(TICK, Format.BINARY) == encode_binary(TICK)
