"""feeds.producer: scheduling, run identity and seq, validation, and faults, on a real IOLoop and a fake clock.

Time moves only when a test advances the clock (tests/fakeclock.py); the test then waits for what that started, a
tick published or ended, to happen (tests/waiting.py). The event loop's own clock, the producer's default, runs under
every protocol test (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence

import pytest

from feeds import Feed, Field
from feeds.codec import Format
from feeds.hub import Hub
from feeds.producer import Producer, SampleError, describe, validate
from feeds.sequencer import LocalSequencer
from feeds.status import MAX_ERROR_CHARS, FeedStatus, Health
from feeds.tick import Tick

from .fakeclock import FakeClock
from .sinks import Sink
from .waiting import changed, until

INTERVAL = 0.01


class Collector:
    """A publisher that keeps what it is given and lets a test await a condition on it."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.statuses: list[FeedStatus] = []
        self.batches: list[list[Tick]] = []

    def publish(self, events: Sequence[Tick | FeedStatus]) -> None:
        ticks = [event for event in events if isinstance(event, Tick)]
        if len(ticks) > 1:
            self.batches.append(ticks)
        self.ticks.extend(ticks)
        self.statuses.extend(event for event in events if isinstance(event, FeedStatus))
        changed()

    async def wait_for(self, condition: Callable[[list[Tick]], bool]) -> None:
        await until(lambda: condition(self.ticks))


class Signalling(Producer):
    """A producer that tells `until` whenever a feed's tick has ended, whether it published anything or not."""

    def tick_ended(self) -> None:
        super().tick_ended()
        changed()


# Beats are due at start + n x interval; a clock moved on by interval after interval, just past each, reaches every
# one of them whatever the rounding of the sums.
JUST_PAST = 1e-9


async def beat(clock: FakeClock, producer: Signalling, seconds: float = INTERVAL) -> None:
    """Move the clock on by ``seconds`` (just past) and wait until every tick that started on the way has ended."""
    clock.advance(seconds + JUST_PAST)
    await until(lambda: all(runner.sampling_beat is None for runner in producer.runners.values()))


class Counter(Feed):
    name = "counter"
    interval = INTERVAL
    fields = (Field("n"), Field("thread"))

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self.n = 0
        self.events: list[str] = []

    def setup(self) -> None:
        self.events.append("setup")

    def sample(self) -> dict[str, float]:
        self.n += 1
        return {"n": self.n, "thread": float(threading.get_ident() == MAIN_THREAD)}

    def teardown(self) -> None:
        self.events.append("teardown")


class AsyncCounter(Counter):
    name = "async_counter"

    async def sample(self) -> dict[str, float]:  # type: ignore[override]
        await asyncio.sleep(0)  # the feed's own await (a socket read, say) gives the loop a turn: not the test waiting
        self.n += 1
        return {"n": self.n, "thread": float(threading.get_ident() == MAIN_THREAD)}


class Flaky(Counter):
    """Raises on every third sample, and returns a malformed one on every fifth."""

    name = "flaky"

    def sample(self) -> dict[str, float]:
        self.n += 1
        if self.n % 3 == 0:
            raise RuntimeError(f"sample {self.n} failed")
        if self.n % 5 == 0:
            return {"n": math.nan, "thread": 0.0}
        return {"n": self.n, "thread": 0.0}


MAIN_THREAD = threading.get_ident()


@pytest.mark.gen_test
async def test_ticks_carry_consecutive_seq_one_run_and_increasing_time() -> None:
    clock, collector, feed = FakeClock(), Collector(), Counter()
    producer = Signalling([feed], collector, clock=clock)
    producer.start()
    await beat(clock, producer, 0.0)  # the first sample, at once
    for _ in range(4):
        await beat(clock, producer)
    await producer.stop()
    ticks = collector.ticks
    assert len(ticks) == 5  # one a beat
    assert [tick.seq for tick in ticks] == list(range(1, len(ticks) + 1))
    assert len({tick.run for tick in ticks}) == 1
    assert all(later.ts >= earlier.ts for earlier, later in itertools.pairwise(ticks))
    assert ticks[0].fields == ("n", "thread")
    assert [tick.values[0] for tick in ticks] == [float(n) for n in range(1, len(ticks) + 1)]
    assert feed.events == ["setup", "teardown"]


@pytest.mark.gen_test
async def test_sync_samples_run_off_the_event_loop_and_async_ones_on_it() -> None:
    clock, collector = FakeClock(), Collector()
    producer = Producer([Counter(), AsyncCounter()], collector, clock=clock)
    producer.start()
    clock.advance()
    await collector.wait_for(lambda ticks: {tick.feed for tick in ticks} == {"counter", "async_counter"})
    await producer.stop()
    on_loop = {tick.feed: tick.values[1] for tick in collector.ticks}
    assert on_loop == {"counter": 0.0, "async_counter": 1.0}


@pytest.mark.gen_test
async def test_each_run_has_its_own_identity() -> None:
    first, second = Producer([Counter()], Collector()), Producer([Counter()], Collector())
    assert first.runners["counter"].run != second.runners["counter"].run
    await first.stop()
    await second.stop()


@pytest.mark.gen_test
async def test_failed_and_malformed_samples_are_skipped_without_a_seq_gap() -> None:
    clock, collector = FakeClock(), Collector()
    producer = Signalling([Flaky()], collector, clock=clock)
    producer.start()
    await beat(clock, producer, 0.0)
    for _ in range(13):  # samples 2 to 14: eight of the fourteen are good
        await beat(clock, producer)
    await producer.stop()
    published = [int(tick.values[0]) for tick in collector.ticks]
    assert len(published) == 8
    assert all(n % 3 and n % 5 for n in published)
    assert [tick.seq for tick in collector.ticks] == list(range(1, len(published) + 1))
    assert producer.runners["flaky"].status.failures >= 3


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        ([1.0], "returned list, expected a mapping"),
        ({"n": 1.0}, r"\(missing: 'm'\)"),
        ({"n": 1.0, "m": 2.0, "z": 3.0}, r"\(unexpected: 'z'\)"),
        ({"z": 1.0, "y": 2.0}, r"\(missing: 'n', 'm'; unexpected: 'z', 'y'\)"),
        ({"n": 1.0, "m": "2"}, "field 'm' is '2', expected a finite number"),
        ({"n": 1.0, "m": math.inf}, "field 'm' is inf"),
        ({"n": 1.0, "m": math.nan}, "field 'm' is nan"),
        ({"n": True, "m": 1.0}, "field 'n' is True"),
    ],
)
def test_validate_refuses_malformed_samples(sample: object, reason: str) -> None:
    with pytest.raises(SampleError, match=reason):
        validate(sample, ("n", "m"))


def test_validate_orders_values_by_fields() -> None:
    assert validate({"m": 2, "n": 1.5}, ("n", "m")) == (1.5, 2.0)


MIB = 2**20


def test_validate_counts_wrong_fields_and_quotes_a_value_short_whatever_their_size() -> None:
    wide = {"n": 1.0, **dict.fromkeys((f"x{i}" for i in range(100_001)), 1.0)}
    with pytest.raises(SampleError) as refused:
        validate(wide, ("n", "m"))
    assert str(refused.value) == (
        "sample fields do not match the feed's (missing: 'm'; unexpected: 100001 fields, first: 'x0', 'x1', 'x2')"
    )
    fields = tuple(f"f{i}" for i in range(10))
    with pytest.raises(SampleError) as refused:
        validate({}, fields)
    assert str(refused.value) == "sample fields do not match the feed's (missing: 10 fields, first: 'f0', 'f1', 'f2')"
    with pytest.raises(SampleError) as refused:
        validate({"n": 1.0, "m": "x" * MIB}, ("n", "m"))
    assert str(refused.value) == f"field 'm' is '{'x' * 17}...{'x' * 18}', expected a finite number"


def test_an_error_of_any_size_becomes_one_line_of_a_few_hundred_characters() -> None:
    message = "sensor offline\n" * (MIB // 15)
    line = describe(RuntimeError(message))
    kept = " ".join(f"RuntimeError: {message}"[:MAX_ERROR_CHARS].split())
    assert line == f"{kept}... ({len('RuntimeError: ') + len(message) - MAX_ERROR_CHARS} more characters)"
    assert describe(RuntimeError("short\n  and plain")) == "RuntimeError: short and plain"


# Each failure of these made a status of a megabyte, sent to every subscriber: by its message, its fields, a value.
HOSTILE = {
    "raises with a 1 MiB message": RuntimeError("x" * MIB),
    "returns 100,001 undeclared fields": {"n": 1.0, **dict.fromkeys((f"x{i}" for i in range(100_001)), 1.0)},
    "returns a 1 MiB string": {"n": "sensor offline\n" * (MIB // 15)},
}


class Hostile(Feed):
    """Fails every sample the same way: one of `HOSTILE`."""

    name = "hostile"
    interval = INTERVAL
    fields = (Field("n"),)

    def __init__(self, shape: str) -> None:
        super().__init__()
        self.outcome = HOSTILE[shape]

    def sample(self) -> object:
        if isinstance(self.outcome, Exception):
            raise type(self.outcome)(*self.outcome.args)  # a new one: raised again, one would grow its traceback
        return self.outcome


FAILURES = 20


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("shape", list(HOSTILE))
async def test_a_feed_failing_with_a_huge_error_sends_a_subscriber_one_short_status(shape: str) -> None:
    clock, feed = FakeClock(), Hostile(shape)
    hub, subscriber = Hub([feed], clock=clock), Sink()
    hub.subscribe("hostile", subscriber, Format.JSON)
    producer = Signalling([feed], hub, clock=clock)
    producer.start()
    await beat(clock, producer, 0.0)
    for _ in range(FAILURES - 1):
        await beat(clock, producer)
    await producer.stop()
    # Before: every failure sent a status of 1 to 1.5 MiB, 20 to 30 MiB in all. Now one status, of a few hundred
    # bytes, as the feed started failing; the failures after it, failing the same way, are only counted.
    assert sum(len(data) for data, _ in subscriber.messages) < 500
    (status,) = subscriber.replies()
    assert (status["status"], status["failures"]) == ("failing", 1)
    assert len(status["error"]) <= MAX_ERROR_CHARS + len("... (1048576 more characters)")
    assert hub.status("hostile") == FeedStatus("hostile", Health.FAILING, FAILURES, status["error"])


@pytest.mark.gen_test
async def test_feeds_ticking_on_the_same_beat_are_published_together() -> None:
    class Other(AsyncCounter):
        name = "other"

    clock, collector = FakeClock(), Collector()
    producer = Producer([AsyncCounter(), Other()], collector, clock=clock)
    producer.start()
    for beat in range(3):
        clock.advance(INTERVAL if beat else 0.0)
        await collector.wait_for(lambda ticks, beat=beat: len(ticks) == 2 * (beat + 1))
    await producer.stop()
    # Async samples due at the same moment finish together: each batch holds one tick of each feed.
    assert len(collector.batches) == 3
    assert all(sorted(tick.feed for tick in batch) == ["async_counter", "other"] for batch in collector.batches)


class Gated(Counter):
    """A plain sample that waits, in the feed's thread, until the test opens its gate (from the second on)."""

    name = "gated"

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def sample(self) -> dict[str, float]:
        if self.n:
            self.gate.wait()
        return super().sample()


class Watched(Producer):
    """A producer that tells the test when a feed has handed it a tick: whether another feed was sampling the same
    beat then, and whether the tick went out at once."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.collector: Collector = args[1]  # type: ignore[assignment]
        self.at_once: list[bool] = []
        self.with_company: list[bool] = []  # another feed sampling the same beat
        self.held_for_company = asyncio.Event()

    def emit(self, event: Tick | FeedStatus) -> None:
        if not isinstance(event, Tick):
            super().emit(event)
            return
        beat = self.runners[event.feed].sampling_beat
        company = beat is not None and any(
            name != event.feed and runner.samples_beat(beat) for name, runner in self.runners.items()
        )
        super().emit(event)
        self.at_once.append(event in self.collector.ticks)
        self.with_company.append(company)
        if company:
            self.held_for_company.set()


async def first_beat(clock: FakeClock, producer: Watched, feeds: int) -> None:
    """Start the producer and let every feed's first sample (at once, ungated) go out."""
    producer.start()
    clock.advance()
    await producer.collector.wait_for(lambda ticks: len(ticks) == feeds)
    producer.held_for_company.clear()


@pytest.mark.gen_test
async def test_a_tick_waits_for_a_slower_feed_of_its_beat() -> None:
    clock, collector, slow = FakeClock(), Collector(), Gated()
    producer = Watched([AsyncCounter(), slow], collector, clock=clock, batch_window=30.0)
    await first_beat(clock, producer, 2)
    # From its second sample on, the gated feed waits: the other feed's tick of that beat waits for it.
    clock.advance(INTERVAL)
    await producer.held_for_company.wait()
    assert producer.at_once[-1] is False
    assert not any(at_once for at_once, company in zip(producer.at_once, producer.with_company, strict=True) if company)
    slow.gate.set()
    await collector.wait_for(lambda ticks: sum(tick.feed == "gated" for tick in ticks) >= 2)
    await producer.stop()
    # The gated feed's second tick went out in one batch with the other feed's tick that waited for it.
    (batch,) = [batch for batch in collector.batches if any(tick.feed == "gated" for tick in batch)][-1:]
    assert {tick.feed for tick in batch} == {"async_counter", "gated"}


@pytest.mark.gen_test
async def test_a_tick_waits_no_longer_than_the_batch_window() -> None:
    window = INTERVAL * 0.4  # closes before the next beat
    clock, collector, slow = FakeClock(), Collector(), Gated()
    producer = Watched([AsyncCounter(), slow], collector, clock=clock, batch_window=window)
    await first_beat(clock, producer, 2)
    clock.advance(INTERVAL)
    await producer.held_for_company.wait()
    seen = len(collector.ticks)
    clock.advance(window * 0.75)
    assert len(collector.ticks) == seen  # still held: the window is open and the gated feed still sampling
    clock.advance(window * 0.5)
    # The gated feed is still sampling: the other feed's tick went out alone when the window closed.
    assert [tick.feed for tick in collector.ticks[seen:]] == ["async_counter"]
    slow.gate.set()
    await collector.wait_for(lambda ticks: sum(tick.feed == "gated" for tick in ticks) >= 2)
    await producer.stop()


@pytest.mark.gen_test
async def test_a_tick_with_no_other_feed_on_its_beat_goes_out_at_once() -> None:
    class Hourly(Counter):
        name = "hourly"
        interval = 3600.0

    clock, collector = FakeClock(), Collector()
    producer = Watched([Counter(), Hourly()], collector, clock=clock, batch_window=30.0)
    await first_beat(clock, producer, 2)
    for beat in range(1, 5):
        clock.advance(INTERVAL)
        await collector.wait_for(lambda ticks, beat=beat: sum(tick.feed == "counter" for tick in ticks) == beat + 1)
    await producer.stop()
    # The first beat has both feeds; after it the hourly feed is idle and nothing waits for it.
    assert len(producer.at_once) == 6
    assert producer.at_once[2:] == [True] * len(producer.at_once[2:])


@pytest.mark.gen_test
async def test_a_sample_raising_stop_iteration_fails_and_the_feed_goes_on() -> None:
    class Exhausted(Counter):
        name = "exhausted"

        def sample(self) -> dict[str, float]:
            self.n += 1
            if self.n == 2:
                raise StopIteration  # next() on an empty iterator, say
            return {"n": self.n, "thread": 0.0}

    clock, collector = FakeClock(), Collector()
    producer = Signalling([Exhausted()], collector, clock=clock)
    producer.start()
    await beat(clock, producer, 0.0)
    for _ in range(3):  # samples 2 (raising) to 4
        await beat(clock, producer)
    await producer.stop()
    assert [status.error for status in collector.statuses if status.error] == [
        "RuntimeError: sample() raised StopIteration"
    ]
    assert [tick.values[0] for tick in collector.ticks[:3]] == [1.0, 3.0, 4.0]


@pytest.mark.gen_test
async def test_a_status_never_overtakes_the_tick_before_it() -> None:
    events_seen: list[str] = []

    class Ordered(Collector):
        def publish(self, events: Sequence[Tick | FeedStatus]) -> None:
            for event in events:
                events_seen.append(
                    f"tick {event.feed}" if isinstance(event, Tick) else f"{event.health.value} {event.feed}"
                )
            super().publish(events)

    class Other(Counter):
        name = "other"

    clock, collector = FakeClock(), Ordered()
    producer = Signalling([Counter(), Other()], collector, clock=clock)  # two feeds: ticks are held for batching
    producer.start()
    await beat(clock, producer, 0.0)
    await beat(clock, producer)
    await producer.stop()
    assert len(collector.ticks) == 4
    for feed in ("counter", "other"):
        assert events_seen.index(f"tick {feed}") < events_seen.index(f"ok {feed}")


@pytest.mark.gen_test
async def test_a_refused_first_sample_does_not_fix_the_inferred_fields() -> None:
    class Undeclared(Feed):
        """Declares no fields; its first sample is refused (None is not a number), the later ones are good."""

        name = "undeclared"
        interval = INTERVAL

        def __init__(self) -> None:
            super().__init__()
            self.n = 0

        def sample(self) -> dict[str, float | None]:
            self.n += 1
            return {"temp": None} if self.n == 1 else {"temp": 20.0, "hum": 50.0}

    clock, collector, feed = FakeClock(), Collector(), Undeclared()
    producer = Signalling([feed], collector, clock=clock)
    producer.start()
    await beat(clock, producer, 0.0)
    for _ in range(2):  # samples 2 and 3, both good
        await beat(clock, producer)
    await producer.stop()
    assert [tick.fields for tick in collector.ticks[:2]] == [("temp", "hum")] * 2
    assert feed.fields == ()  # the fields travel with the ticks: nothing is written back onto the feed
    assert [tick.seq for tick in collector.ticks[:2]] == [1, 2]
    assert [status.error for status in collector.statuses if status.error] == [
        "field 'temp' is None, expected a finite number"
    ]


@pytest.mark.gen_test
async def test_run_seq_and_timestamps_come_from_the_sequencer_and_clock_given() -> None:
    class Continuing(LocalSequencer):
        """A sequencer that carries on a run from seq 10, as a cluster-wide one would after a failover."""

        def run(self, feed: str) -> int:
            return 42

        def next(self, feed: str) -> tuple[int, int]:
            return 42, super().next(feed)[1] + 9

    clock, collector = FakeClock(), Collector()
    producer = Producer([AsyncCounter()], collector, sequencer=Continuing(), clock=clock)
    producer.start()
    clock.advance()
    await collector.wait_for(lambda ticks: len(ticks) == 1)
    clock.advance(INTERVAL)
    await collector.wait_for(lambda ticks: len(ticks) == 2)
    await producer.stop()
    assert [(tick.run, tick.seq) for tick in collector.ticks] == [(42, 10), (42, 11)]
    assert [tick.ts for tick in collector.ticks] == [clock.wall() - INTERVAL, clock.wall()]
    assert producer.runners["async_counter"].run == 42


@pytest.mark.gen_test
async def test_beats_missed_while_the_loop_was_busy_are_skipped_not_made_up() -> None:
    clock, collector = FakeClock(), Collector()
    producer = Producer([AsyncCounter()], collector, clock=clock)
    producer.start()
    clock.advance()
    await collector.wait_for(lambda ticks: len(ticks) == 1)
    clock.jump(3.5 * INTERVAL)  # the loop was busy: three beats are overdue
    clock.advance()  # one sample, for the latest of them, not three in a row
    await collector.wait_for(lambda ticks: len(ticks) == 2)
    clock.advance(0.5 * INTERVAL)  # the next beat keeps to the schedule: start + 4 x interval
    await collector.wait_for(lambda ticks: len(ticks) == 3)
    await producer.stop()
    assert [tick.seq for tick in collector.ticks] == [1, 2, 3]
    assert collector.ticks[2].ts - collector.ticks[0].ts == pytest.approx(4 * INTERVAL)


@pytest.mark.gen_test
async def test_starting_twice_keeps_one_schedule() -> None:
    clock, collector = FakeClock(), Collector()
    producer = Producer([AsyncCounter()], collector, clock=clock)
    producer.start()
    producer.start()
    clock.advance()
    await collector.wait_for(lambda ticks: len(ticks) == 1)
    await producer.stop()
    clock.advance(10 * INTERVAL)  # no beat is left to run after stop()
    assert producer.runners["async_counter"].sampling_beat is None  # no tick started (it would publish later)
    assert len(collector.ticks) == 1


@pytest.mark.gen_test
async def test_a_failure_downstream_of_the_feed_is_logged_when_it_happens(caplog: pytest.LogCaptureFixture) -> None:
    class Refusing(Collector):
        def publish(self, events: Sequence[Tick | FeedStatus]) -> None:
            super().publish(events)
            raise RuntimeError("hub bug")

    clock, collector = FakeClock(), Refusing()
    producer = Signalling([AsyncCounter()], collector, clock=clock)
    producer.start()
    await beat(clock, producer, 0.0)  # the tick is handed over, and its task ends
    assert len(collector.ticks) == 1
    assert [record.getMessage() for record in caplog.records] == ["feed async_counter: handing over a tick failed"]
    await producer.stop()


async def hanging_on_its_second_sample(feed: AsyncCounter) -> tuple[Producer, Collector]:
    """A producer of ``feed`` on a fake clock, once its first tick is out and its second sample has started (and
    hangs: ``feed.hanging`` is set)."""
    clock, collector = FakeClock(), Collector()
    producer = Producer([feed], collector, clock=clock)
    producer.start()
    clock.advance()
    await collector.wait_for(lambda ticks: len(ticks) == 1)
    clock.advance(INTERVAL)
    await until(lambda: getattr(feed, "hanging", False))
    return producer, collector


@pytest.mark.gen_test
async def test_stop_abandons_a_sample_in_progress_and_nothing_follows() -> None:
    class Hanging(AsyncCounter):
        """Its second sample never finishes by itself."""

        name = "hanging"
        hanging = False

        async def sample(self) -> dict[str, float]:  # type: ignore[override]
            if self.n:
                self.hanging = True
                changed()
                await asyncio.Event().wait()
            return await super().sample()

    feed = Hanging()
    producer, collector = await hanging_on_its_second_sample(feed)
    assert producer.runners["hanging"].sampling_beat is not None
    await producer.stop()
    assert producer.runners["hanging"].sampling_beat is None
    assert feed.events == ["setup", "teardown"]  # an async sample holds no thread: teardown ran
    assert len(collector.ticks) == 1


@pytest.mark.gen_test
async def test_stop_gives_a_cancelled_sample_its_timeout_to_end_not_forever(caplog: pytest.LogCaptureFixture) -> None:
    class Stubborn(AsyncCounter):
        """Its second sample swallows its cancellation and waits on until released."""

        name = "stubborn"
        timeout = 0.05

        def __init__(self) -> None:
            super().__init__()
            self.release = asyncio.Event()
            self.hanging = False
            self.cancelled = 0

        async def sample(self) -> dict[str, float]:  # type: ignore[override]
            if self.n:
                self.hanging = True
                changed()
                while not self.release.is_set():
                    try:
                        await self.release.wait()
                    except asyncio.CancelledError:
                        self.cancelled += 1
                self.hanging = False
                changed()  # and ends in this step: nothing is left running when the test sees it
                return {"n": 0.0, "thread": 1.0}
            return await super().sample()

    feed = Stubborn()
    producer, collector = await hanging_on_its_second_sample(feed)
    # Before, stop() waited for the cancelled sample to end, and it never does.
    await asyncio.wait_for(producer.stop(), 20 * Stubborn.timeout)
    assert feed.cancelled == 1
    assert feed.events == ["setup"]  # teardown() is not run under a sample still running
    assert [record.getMessage() for record in caplog.records] == [
        "feed stubborn: teardown() skipped: sample() is still running"
    ]
    feed.release.set()
    await until(lambda: not feed.hanging)  # it ends once released, and nothing follows: stop() is done
    assert len(collector.ticks) == 1


@pytest.mark.gen_test(timeout=30)
async def test_a_feed_failing_every_other_sample_logs_its_traceback_once_then_a_line_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Flapping(AsyncCounter):
        """Fails every other sample, with a message that names a changing value."""

        name = "flapping"
        interval = 0.1

        async def sample(self) -> dict[str, float]:  # type: ignore[override]
            sample = await super().sample()
            if self.n % 2 == 0:
                raise RuntimeError(f"sensor offline at sample {self.n}")
            return sample

    clock, collector = FakeClock(), Collector()
    producer = Signalling([Flapping()], collector, clock=clock)
    producer.start()
    with caplog.at_level(logging.INFO, logger="dashboard.producer"):
        await beat(clock, producer, 0.0)
        for _ in range(1249):  # 125 s of flapping: samples 2 to 1250, half of them failing
            await beat(clock, producer, Flapping.interval)
    await producer.stop()
    lines = [record.getMessage() for record in caplog.records]
    # The traceback once and the recovery once; then a summary a minute, never a line per failure.
    assert lines == [
        "feed flapping: sample skipped: RuntimeError: sensor offline at sample 2",
        "feed flapping: recovered after 1 failures",
        "feed flapping: 299 more failures and 299 recoveries not logged since the last summary "
        "(latest: sample skipped: RuntimeError: sensor offline at sample 600)",
        "feed flapping: 300 more failures and 300 recoveries not logged since the last summary "
        "(latest: sample skipped: RuntimeError: sensor offline at sample 1200)",
    ]
    assert caplog.records[0].exc_info is not None
    assert len(collector.ticks) == 625


class Continuing(Counter):
    """Counts on from the last published tick it is handed."""

    name = "continuing"

    def take_over(self, last: Mapping[str, float]) -> None:
        self.n = int(last["n"])


@pytest.mark.gen_test
async def test_a_feed_added_later_samples_at_once_continuing_its_sequencer_and_its_last_values() -> None:
    """A cluster's new leader: the feed is handed the last tick before its setup, and numbers on from the last seq."""
    clock, collector, feed = FakeClock(), Collector(), Continuing()
    producer = Signalling([], collector, clock=clock)
    producer.start()
    sequencer = LocalSequencer()
    for _ in range(41):
        sequencer.next(feed.name)  # the ticks the last leader published
    producer.add(feed, sequencer, {"n": 41.0, "thread": 0.0})
    await beat(clock, producer, 0.0)
    await beat(clock, producer)
    assert [(tick.seq, tick.values[0]) for tick in collector.ticks] == [(42, 42.0), (43, 43.0)]
    assert feed.events == ["setup"]
    await producer.remove(feed.name)
    assert feed.events == ["setup", "teardown"]
    await beat(clock, producer)
    assert len(collector.ticks) == 2  # nothing after its removal
    await producer.stop()


class Slow(Counter):
    name = "slow"

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def sample(self) -> dict[str, float]:
        self.release.wait(5)
        return super().sample()


@pytest.mark.gen_test
async def test_a_feed_removed_while_it_samples_publishes_nothing_more() -> None:
    clock, collector, feed = FakeClock(), Collector(), Slow()
    producer = Signalling([], collector, clock=clock)
    producer.add(feed, LocalSequencer())
    clock.advance(JUST_PAST)
    await until(lambda: producer.runners[feed.name].sampling_beat is not None)
    removing = asyncio.ensure_future(producer.remove(feed.name))
    feed.release.set()
    await removing
    assert collector.ticks == [] and collector.statuses == []
    await producer.stop()
