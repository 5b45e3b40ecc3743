"""feeds.hub: subscriptions and the fan-out of encoded ticks, driven with plain in-memory subscribers."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence

import pytest

from feeds import Feed, Field
from feeds.codec import Format, encode, encode_status
from feeds.encoded import EncodedTick
from feeds.frames import Opcode, frame
from feeds.hub import Hub
from feeds.status import FeedStatus, Health
from feeds.tick import Tick

from .sinks import Sink


class Numbers(Feed):
    name = "numbers"
    fields = (Field("x"),)


class Letters(Feed):
    name = "letters"
    fields = (Field("a"),)


class Broken(Sink):
    def send(self, data: bytes, key: Hashable | None = None) -> None:
        raise RuntimeError("boom")

    def send_many(self, frames: Sequence[tuple[bytes, Hashable]]) -> None:
        raise RuntimeError("boom")


def tick(seq: int, feed: str = "numbers") -> Tick:
    return Tick(feed, 1, seq, 100.0 + seq, ("x",), (float(seq),))


@pytest.fixture
def hub() -> Hub:
    return Hub([Numbers(), Letters()])


def test_each_tick_is_encoded_and_framed_once_per_format_and_shared(hub: Hub) -> None:
    json_sinks = [Sink() for _ in range(3)]
    binary_sinks = [Sink() for _ in range(2)]
    for sink in json_sinks:
        hub.subscribe("numbers", sink, Format.JSON)
    for sink in binary_sinks:
        hub.subscribe("numbers", sink, Format.BINARY)
    hub.publish([tick(1)])
    json_messages = [sink.messages[0] for sink in json_sinks]
    binary_messages = [sink.messages[0] for sink in binary_sinks]
    # The very same bytes object, not equal copies: encoding did not happen per subscriber.
    assert len({id(message) for message, _ in json_messages}) == 1
    assert len({id(message) for message, _ in binary_messages}) == 1
    assert json_messages[0][0] == frame(encode(tick(1), Format.JSON), Opcode.TEXT)
    assert binary_messages[0][0] == frame(encode(tick(1), Format.BINARY), Opcode.BINARY)
    # Ticks of one feed share a key, so a slow connection may keep only the newest.
    assert json_messages[0][1] == binary_messages[0][1] is not None


def test_ticks_go_only_to_their_feeds_subscribers(hub: Hub) -> None:
    numbers, letters = Sink(), Sink()
    hub.subscribe("numbers", numbers, Format.JSON)
    hub.subscribe("letters", letters, Format.JSON)
    hub.publish([tick(1)])
    assert len(numbers.messages) == 1
    assert letters.messages == []


def test_unsubscribe_stops_delivery_and_is_idempotent(hub: Hub) -> None:
    sink = Sink()
    hub.subscribe("numbers", sink, Format.BINARY)
    hub.publish([tick(1)])
    hub.unsubscribe("numbers", sink)
    hub.unsubscribe("numbers", sink)
    hub.publish([tick(2)])
    assert len(sink.messages) == 1
    assert hub.subscriber_count("numbers") == 0


def test_a_failing_subscriber_is_dropped_and_the_others_still_get_the_tick(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    before, after = Sink(), Sink()
    hub.subscribe("numbers", before, Format.JSON)
    hub.subscribe("numbers", Broken(), Format.JSON)
    hub.subscribe("numbers", after, Format.JSON)
    with caplog.at_level(logging.ERROR, logger="dashboard.hub"):
        hub.publish([tick(1)])
        hub.publish([tick(2)])
    assert len(before.messages) == len(after.messages) == 2
    assert hub.subscriber_count("numbers") == 2
    assert len(caplog.records) == 1


def test_a_subscriber_whose_send_raises_is_dropped_from_every_feed_and_told_to_fail(hub: Hub) -> None:
    """Not quietly dropped: a connection left open but subscribed to nothing would wait for ticks forever."""
    broken, other = Broken(), Sink()
    for feed in ("numbers", "letters"):
        hub.subscribe(feed, broken, Format.JSON)
        hub.subscribe(feed, other, Format.BINARY)
    hub.publish([tick(1)])
    assert broken.failed == 1
    assert hub.subscribers("numbers") == hub.subscribers("letters") == [other]
    assert other.failed == 0


def test_a_subscriber_may_unsubscribe_while_receiving(hub: Hub) -> None:
    class Leaver(Sink):
        def send(self, data: bytes, key: Hashable | None = None) -> None:
            super().send(data, key)
            hub.unsubscribe("numbers", self)

    leaver, stayer = Leaver(), Sink()
    hub.subscribe("numbers", leaver, Format.JSON)
    hub.subscribe("numbers", stayer, Format.JSON)
    hub.publish([tick(1)])
    hub.publish([tick(2)])
    assert len(leaver.messages) == 1
    assert len(stayer.messages) == 2


def test_unknown_feed_lookup_raises_key_error(hub: Hub) -> None:
    with pytest.raises(KeyError):
        hub.feed("nope")
    assert [feed.name for feed in hub.feeds] == ["numbers", "letters"]


def test_a_failed_send_of_a_batch_names_the_feeds_of_that_subscriber(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    hub.subscribe("numbers", Broken(), Format.JSON)
    hub.subscribe("letters", Sink(), Format.JSON)
    with caplog.at_level(logging.ERROR, logger="dashboard.hub"):
        hub.publish([tick(1), Tick("letters", 1, 1, 100.0, ("a",), (5.0,))])
    (record,) = caplog.records
    assert record.getMessage().endswith("after a failed send of numbers")


def test_ticks_published_together_reach_each_subscriber_in_one_write(hub: Hub) -> None:
    both, numbers_only, broken = Sink(), Sink(), Broken()
    for feed in ("numbers", "letters"):
        hub.subscribe(feed, both, Format.JSON)
        hub.subscribe(feed, broken, Format.JSON)
    hub.subscribe("numbers", numbers_only, Format.BINARY)
    letters = Tick("letters", 1, 1, 100.0, ("a",), (5.0,))
    hub.publish([tick(1), letters])
    assert both.writes == 1
    assert [data for data, _ in both.messages] == [
        frame(encode(tick(1), Format.JSON), Opcode.TEXT),
        frame(encode(letters, Format.JSON), Opcode.TEXT),
    ]
    assert numbers_only.messages == [(frame(encode(tick(1), Format.BINARY), Opcode.BINARY), both.messages[0][1])]
    # The broken one was dropped from both feeds and told to fail; the others got their ticks all the same.
    assert hub.subscribers("numbers") == [both, numbers_only]
    assert hub.subscribers("letters") == [both]
    assert broken.failed == 1


def test_delivery_sends_the_very_bytes_that_encoding_built(hub: Hub) -> None:
    """Encode, then deliver: what a broker would carry between the two steps reaches subscribers untouched."""
    json_sink, binary_sink = Sink(), Sink()
    hub.subscribe("numbers", json_sink, Format.JSON)
    hub.subscribe("numbers", binary_sink, Format.BINARY)
    encoded = EncodedTick.of(tick(1))
    assert (encoded.json, encoded.binary) == (
        frame(encode(tick(1), Format.JSON), Opcode.TEXT),
        frame(encode(tick(1), Format.BINARY), Opcode.BINARY),
    )
    hub.deliver([encoded])
    assert json_sink.messages[0][0] is encoded.json
    assert binary_sink.messages[0][0] is encoded.binary


def test_a_status_is_recorded_and_goes_out_as_text_in_order_with_the_ticks(hub: Hub) -> None:
    json_sink, binary_sink = Sink(), Sink()
    hub.subscribe("numbers", json_sink, Format.JSON)
    hub.subscribe("numbers", binary_sink, Format.BINARY)
    recovered = FeedStatus("numbers", Health.OK, 3)
    hub.publish([tick(1), recovered])
    status_frame = frame(encode_status(recovered), Opcode.TEXT)
    assert [data for data, _ in json_sink.messages] == [frame(encode(tick(1), Format.JSON), Opcode.TEXT), status_frame]
    assert [data for data, _ in binary_sink.messages][1] == status_frame
    assert json_sink.writes == binary_sink.writes == 1
    assert hub.status("numbers") == recovered
    assert hub.status("letters") == FeedStatus("letters")


def test_fields_are_the_declared_ones_with_their_units() -> None:
    class Units(Feed):
        name = "units"
        fields = (Field("load", "%"), Field("rx", "B/s"))

    assert Hub([Units()]).fields("units") == (Field("load", "%"), Field("rx", "B/s"))


def test_the_first_tick_of_a_feed_without_fields_fixes_them_and_the_feed_is_not_changed() -> None:
    class Undeclared(Feed):
        name = "undeclared"

    feed = Undeclared()
    hub = Hub([feed])
    assert hub.fields("undeclared") == ()
    hub.publish([Tick("undeclared", 1, 1, 100.0, ("a", "b"), (1.0, 2.0))])
    assert hub.fields("undeclared") == (Field("a"), Field("b"))
    hub.publish([Tick("undeclared", 1, 2, 101.0, ("a", "b"), (1.0, 2.0))])
    assert hub.fields("undeclared") == (Field("a"), Field("b"))
    assert feed.fields == ()
