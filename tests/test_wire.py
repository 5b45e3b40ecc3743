"""broker.wire: a tick's frames and a status travel between nodes unchanged, and a malformed message is refused."""

from __future__ import annotations

import pytest

from broker.wire import FieldNames, WireError, read, status_message, tick_message, values_of
from feeds.encoded import EncodedTick
from feeds.status import FeedStatus, Health
from feeds.tick import Tick


def tick(seq: int) -> EncodedTick:
    return EncodedTick.of(Tick("stocks", 7, seq, 1.5 + seq, ("AAPL.price", "AAPL.volume"), (189.25, 300.0)))


def test_a_tick_arrives_as_its_leader_encoded_it_its_field_names_shared() -> None:
    names = FieldNames()
    first, second = (read("stocks", tick_message(tick(seq)), names) for seq in (1, 2))
    assert first == tick(1) and second == tick(2)
    assert isinstance(first, EncodedTick) and isinstance(second, EncodedTick)
    assert first.fields is second.fields  # one tuple per feed, not one per held tick
    assert values_of(first) == {"AAPL.price": 189.25, "AAPL.volume": 300.0}


def test_a_status_arrives_as_it_was() -> None:
    status = FeedStatus("stocks", Health.FAILING, 3, "boom")
    assert read("stocks", status_message(status), FieldNames()) == status


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"", "unknown message kind"),
        (b"x123", "unknown message kind"),
        (b"t\x00\x01", "shorter than its header"),
        (tick_message(tick(1))[:40], "shorter than its lengths say"),
        (b"s{not json", "malformed status"),
        (b's{"status": "sleepy", "failures": 0, "error": null}', "malformed status"),
    ],
)
def test_a_malformed_message_is_refused_with_a_reason(message: bytes, reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        read("stocks", message, FieldNames())
