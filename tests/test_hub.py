"""feeds.hub: subscriptions and the fan-out of encoded ticks, driven with plain in-memory subscribers."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence

import pytest

from feeds import Feed, Field
from feeds.codec import Format, encode, encode_status
from feeds.encoded import EncodedTick
from feeds.frames import Opcode, frame
from feeds.hub import Hub, wait_seconds
from feeds.status import FeedStatus, Health
from feeds.tick import Tick

from .fakeclock import FakeClock
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


def test_a_status_that_only_counts_another_failure_is_recorded_not_sent(hub: Hub) -> None:
    sink = Sink()
    hub.subscribe("numbers", sink, Format.JSON)
    offline = [FeedStatus("numbers", Health.FAILING, n, "RuntimeError: offline") for n in (1, 2, 3)]
    changed = FeedStatus("numbers", Health.FAILING, 4, "RuntimeError: refused")
    recovered = FeedStatus("numbers", Health.OK, 4)
    hub.publish(offline[:1])
    hub.publish(offline[1:])
    assert hub.status("numbers") == offline[2]  # the count is current for those who ask (subscribed, /api/feeds)
    hub.publish([changed, tick(1), recovered])
    assert [(reply["status"], reply["failures"], reply["error"]) for reply in sink.replies() if "error" in reply] == [
        ("failing", 1, "RuntimeError: offline"),
        ("failing", 4, "RuntimeError: refused"),
        ("ok", 4, None),
    ]
    assert hub.status("numbers") == recovered


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


# --- waiting for the first tick of a feed without declared fields -----------------------------------------------


class Undeclared(Feed):
    name = "undeclared"
    interval = 0.5
    timeout = 0.25


class Waiter:
    """Tells what the hub told it; on ``feed_ready`` it subscribes its sink, as a session would."""

    def __init__(self, hub: Hub, sink: Sink | None = None) -> None:
        self.hub = hub
        self.sink = sink or Sink()
        self.news: list[tuple[str, str]] = []

    def feed_ready(self, feed: str) -> None:
        self.news.append(("ready", feed))
        self.sink.send(b"subscribed")  # the reply, ahead of the tick
        self.hub.subscribe(feed, self.sink, Format.JSON)

    def feed_not_ready(self, feed: str) -> None:
        self.news.append(("not ready", feed))


def first(seq: int = 1) -> Tick:
    return Tick("undeclared", 1, seq, 100.0 + seq, ("a",), (float(seq),))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def waiting_hub(clock: FakeClock) -> Hub:
    return Hub([Numbers(), Undeclared()], clock=clock)


@pytest.mark.parametrize(
    ("interval", "timeout", "seconds"),
    [(0.5, 0.25, 1.5), (1.0, 10.0, 11.0), (0.02, 0.3, 0.32)],
)
def test_a_wait_lasts_three_intervals_or_the_timeout_and_an_interval_if_longer(
    interval: float, timeout: float, seconds: float
) -> None:
    assert wait_seconds(Undeclared(interval=interval, timeout=timeout)) == pytest.approx(seconds)


def test_a_waiter_is_told_just_before_the_first_tick_and_its_subscriber_gets_that_tick(
    waiting_hub: Hub, clock: FakeClock
) -> None:
    waiter = Waiter(waiting_hub)
    waiting_hub.wait_for_fields("undeclared", waiter.sink, waiter)
    assert waiting_hub.waiting("undeclared") == [waiter.sink]
    waiting_hub.publish([first(1), FeedStatus("undeclared", Health.OK)])
    assert waiter.news == [("ready", "undeclared")]
    assert waiting_hub.fields("undeclared") == (Field("a"),)
    assert [data for data, _ in waiter.sink.messages] == [
        b"subscribed",
        frame(encode(first(1), Format.JSON), Opcode.TEXT),
        frame(encode_status(FeedStatus("undeclared", Health.OK)), Opcode.TEXT),
    ]
    waiting_hub.publish([first(2)])
    assert waiter.sink.messages[-1][0] == frame(encode(first(2), Format.JSON), Opcode.TEXT)
    # Nothing is left behind: no wait, no timer; the wait's end did not come later as well.
    assert waiting_hub.waiting("undeclared") == []
    assert clock.pending() == 0
    clock.advance(10.0)
    assert waiter.news == [("ready", "undeclared")]


def test_a_first_tick_in_a_batch_reaches_the_new_subscriber_with_the_rest_of_it(waiting_hub: Hub) -> None:
    waiter = Waiter(waiting_hub)
    waiting_hub.subscribe("numbers", waiter.sink, Format.JSON)
    waiting_hub.wait_for_fields("undeclared", waiter.sink, waiter)
    waiting_hub.publish([tick(1), first(1)])
    assert [data for data, _ in waiter.sink.messages] == [
        b"subscribed",
        frame(encode(tick(1), Format.JSON), Opcode.TEXT),
        frame(encode(first(1), Format.JSON), Opcode.TEXT),
    ]


def test_a_wait_with_no_tick_ends_at_its_deadline(waiting_hub: Hub, clock: FakeClock) -> None:
    waiter = Waiter(waiting_hub)
    waiting_hub.wait_for_fields("undeclared", waiter.sink, waiter)
    clock.advance(wait_seconds(waiting_hub.feed("undeclared")) - 0.125)
    assert waiter.news == []
    clock.advance(0.125)
    assert waiter.news == [("not ready", "undeclared")]
    assert waiting_hub.waiting("undeclared") == []
    assert clock.pending() == 0
    waiting_hub.publish([first(1)])  # too late: nobody was subscribed
    assert waiter.sink.messages == []


def test_the_waits_of_a_feed_share_one_timer_and_each_ends_at_its_own_deadline(
    waiting_hub: Hub, clock: FakeClock
) -> None:
    waiters = [Waiter(waiting_hub) for _ in range(3)]
    for waiter in waiters:  # from 1000.0, 1000.25 and 1000.5: until 1001.5, 1001.75 and 1002.0
        waiting_hub.wait_for_fields("undeclared", waiter.sink, waiter)
        clock.advance(0.25)
    assert clock.pending() == 1
    told = []
    for step in (0.625, 0.125, 0.25, 0.25):  # to 1001.375, then each deadline
        clock.advance(step)
        told.append([len(waiter.news) for waiter in waiters])
    assert told == [[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert clock.pending() == 0


def test_unsubscribe_ends_a_wait_untold_and_the_last_wait_takes_its_timer(waiting_hub: Hub, clock: FakeClock) -> None:
    leaving, staying = Waiter(waiting_hub), Waiter(waiting_hub)
    waiting_hub.wait_for_fields("undeclared", leaving.sink, leaving)
    waiting_hub.wait_for_fields("undeclared", staying.sink, staying)
    waiting_hub.unsubscribe("undeclared", leaving.sink)
    assert waiting_hub.waiting("undeclared") == [staying.sink]
    assert clock.pending() == 1
    waiting_hub.unsubscribe("undeclared", staying.sink)
    assert waiting_hub.waiting("undeclared") == []
    assert clock.pending() == 0
    waiting_hub.publish([first(1)])
    clock.advance(10.0)
    assert leaving.news == staying.news == []
    assert leaving.sink.messages == staying.sink.messages == []


def test_a_wait_for_a_feed_whose_fields_are_known_ends_at_once(waiting_hub: Hub, clock: FakeClock) -> None:
    waiter = Waiter(waiting_hub)
    waiting_hub.wait_for_fields("numbers", waiter.sink, waiter)
    assert waiter.news == [("ready", "numbers")]
    assert waiting_hub.waiting("numbers") == []
    assert clock.pending() == 0


def test_a_waiter_that_raises_keeps_neither_the_tick_nor_the_news_from_the_others(
    waiting_hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    class Raising(Waiter):
        def feed_ready(self, feed: str) -> None:
            raise RuntimeError("bug")

    broken, fine, subscribed = Raising(waiting_hub), Waiter(waiting_hub), Sink()
    waiting_hub.subscribe("undeclared", subscribed, Format.JSON)
    waiting_hub.wait_for_fields("undeclared", broken.sink, broken)
    waiting_hub.wait_for_fields("undeclared", fine.sink, fine)
    with caplog.at_level(logging.ERROR, logger="dashboard.hub"):
        waiting_hub.publish([first(1)])
    assert fine.news == [("ready", "undeclared")]
    assert len(subscribed.messages) == 1
    assert len(fine.sink.messages) == 2
    assert [record.getMessage() for record in caplog.records] == [
        "telling a subscriber waiting for undeclared's first tick failed"
    ]


def test_a_subscriber_dropped_after_a_failed_send_waits_no_more(waiting_hub: Hub, clock: FakeClock) -> None:
    broken = Broken()
    waiter = Waiter(waiting_hub, broken)
    waiting_hub.subscribe("numbers", broken, Format.JSON)
    waiting_hub.wait_for_fields("undeclared", broken, waiter)
    waiting_hub.publish([tick(1)])
    assert broken.failed == 1
    assert waiting_hub.waiting("undeclared") == []
    assert clock.pending() == 0


def test_waiting_for_several_feeds_is_timed_feed_by_feed(clock: FakeClock) -> None:
    class Other(Undeclared):
        name = "other"
        interval = 1.0

    hub = Hub([Undeclared(), Other()], clock=clock)
    waiter = Waiter(hub)
    hub.wait_for_fields("undeclared", waiter.sink, waiter)
    hub.wait_for_fields("other", waiter.sink, waiter)
    assert clock.pending() == 2
    hub.publish([first(1)])
    assert waiter.news == [("ready", "undeclared")]
    clock.advance(wait_seconds(hub.feed("other")))
    assert waiter.news == [("ready", "undeclared"), ("not ready", "other")]
    assert clock.pending() == 0


WIDE_FIELDS = tuple(f"field_{index:058d}" for index in range(256))  # the widest a feed may declare: 256 x 64 chars


class Wide(Feed):
    name = "wide"
    fields = tuple(Field(name) for name in WIDE_FIELDS)


def test_a_feed_whose_ticks_are_too_wide_for_its_history_is_named_at_start(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dashboard.hub"):
        Hub([Wide(), Numbers()], history_ticks=36_000, history_bytes=64 * 1024 * 1024, clock=clock)
    (line,) = [record.getMessage() for record in caplog.records]
    assert line.startswith("feed wide: a tick of its 256 fields takes about ")
    assert "(--history-bytes 67108864), not 36000 (--history-ticks)" in line
    held = int(line.split("holds about ")[1].split()[0])
    assert 1_000 < held < 36_000


def test_a_feed_without_declared_fields_is_named_at_its_first_wide_tick(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Later(Feed):
        name = "later"

    hub = Hub([Later()], history_ticks=36_000, history_bytes=1024 * 1024, clock=clock)
    with caplog.at_level(logging.WARNING, logger="dashboard.hub"):
        hub.publish([Tick("later", 1, 1, 100.0, WIDE_FIELDS, (1.0,) * len(WIDE_FIELDS))])
        hub.publish([Tick("later", 1, 2, 101.0, WIDE_FIELDS, (1.0,) * len(WIDE_FIELDS))])
    assert [record.getMessage().split(":")[0] for record in caplog.records] == ["feed later"]


def test_narrow_feeds_are_not_named(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dashboard.hub"):
        Hub([Numbers()], clock=clock)
    assert caplog.records == []


class Another(Feed):
    name = "another"


def test_a_feed_added_later_is_served_like_the_first_ones(hub: Hub) -> None:
    """In a cluster, another machine's own feed is found after the start; every subscriber is told, once."""
    both = Sink()
    hub.subscribe("numbers", both, Format.JSON)
    hub.subscribe("letters", both, Format.BINARY)
    hub.add_feed(Another())
    assert both.replies() == [{"op": "feed_added", "feed": "another"}]
    assert [feed.name for feed in hub.feeds] == ["numbers", "letters", "another"]
    sink = Sink()
    hub.subscribe("another", sink, Format.JSON)
    hub.publish([Tick("another", 7, 1, 100.0, ("y",), (2.0,))])
    assert [field.name for field in hub.fields("another")] == ["y"]  # from its first tick, as for any field-less feed
    assert len(sink.messages) == 1 and hub.history("another").newest == (7, 1)
    with pytest.raises(ValueError, match="feed 'another' is served already"):
        hub.add_feed(Another())


def test_all_histories_together_hold_at_most_their_total_each_its_share_also_after_a_feed_is_added() -> None:
    hub = Hub([Numbers(), Letters()], history_bytes=10_000, history_total_bytes=12_000)
    assert [hub.history(name).max_bytes for name in ("numbers", "letters")] == [6_000, 6_000]
    hub.add_feed(Another())
    assert [hub.history(name).max_bytes for name in ("numbers", "letters", "another")] == [4_000] * 3
    hub.publish([tick(seq) for seq in range(1, 200)])
    assert hub.history("numbers").held_bytes <= 4_000
