"""The producer: runs every feed on its own schedule and publishes each good sample as a `Tick`.

Each feed samples on its beats, start + n x interval, on timers of the producer's `Clock` (the event loop's, or a
test's). A plain ``sample()`` runs in a thread of the feed's own, so a slow or blocked one never stalls the event
loop or another feed; an ``async def sample()`` runs on the loop. Either is abandoned after the feed's ``timeout``
(an async one is cancelled, and not waited for: one that ignores its cancellation fails at its timeout all the
same), and a sample still running when the next beat comes is not started twice. An async one that blocks the loop
(``time.sleep`` in it, say) cannot be interrupted; the loop's watchdog (`feeds.watchdog`) names it while it blocks,
and the sample fails when it ends (`LoopBlockedError`), whatever it returns. A sample that
raises or returns something malformed is skipped and logged (each kind of error once, with its traceback, then a
summary at most once a minute: `FailureLog`): the feed keeps its schedule, and nothing malformed reaches a client.
Its reason, in the log and the feed's status, is one line of a few hundred characters however large the exception's
message or the sample (`describe`, `validate`).
A failing ``setup()`` is retried with a growing delay. Each tick's run and seq come from a `Sequencer`, not from the
feed's runner.

The producer knows nothing of subscribers: it hands ticks and status changes to a `Publisher` (the hub's seam). A
runner has one exit for both, the producer's `Producer.emit`, so they leave in the order they were made. Feeds whose
ticks are due on the same beat (within ``SAME_BEAT`` of each other) have their ticks handed over together, so that
the hub can send each client one write carrying all of them: a tick waits until every feed of its beat has finished
sampling, at most ``BATCH_WINDOW``, and so is a status change made on that beat, behind the tick before it. A tick
with no other feed sampling on its beat goes out at once.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import math
import queue
import reprlib
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from numbers import Real
from typing import Any, Protocol

from .clock import Clock, LoopClock
from .feed import MAX_FIELDS, Feed, Field, check_fields
from .sequencer import LocalSequencer, Sequencer
from .status import MAX_ERROR_CHARS, FeedStatus, Health, error_line
from .tick import Tick
from .tokenbucket import LineBudget

__all__ = ["MAX_FIELDS", "LoopBlockedError", "Producer", "Publisher", "SampleError", "SampleTimeoutError", "validate"]

log = logging.getLogger("dashboard.producer")

# While a feed keeps failing, a summary line is logged at most this often (seconds), and a kind of error, or a
# recovery, at most once in as long.
FAILURE_LOG_INTERVAL = 60.0
# The kinds of error (and recovery, `RECOVERY`) a feed's log remembers having seen, the least recent forgotten first.
MAX_ERROR_KINDS = 64
RECOVERY = ("recovered", "")  # beside the kinds of error: (type name, where raised)
# Ticks due within this many seconds of each other are on the same beat: they go out as one batch.
SAME_BEAT = 0.001
# A tick waits at most this many seconds for the other feeds of its beat to finish sampling.
BATCH_WINDOW = 0.005
# A failing setup() is retried after interval, 2 x interval, 4 x interval ..., at most this many seconds apart.
MAX_SETUP_DELAY = 60.0
# A refused sample's reason names at most this many of its missing or unexpected fields, and counts the rest.
NAMED_FIELDS = 3
# How a refused value or field name is quoted: its repr, of at most about this many characters whatever its size.
QUOTE_CHARS = 40
# A failed setup()'s reason is this and its error, in MAX_ERROR_CHARS (and a count of what was cut) in all.
SETUP_FAILED = "setup() failed: "


class SampleError(ValueError):
    """A sample that cannot become a tick: not a mapping, wrong fields, a value that is not a finite number."""


class SetupError(Exception):
    """``setup()`` failed; the cause is chained."""


class SampleTimeoutError(TimeoutError):
    """A feed method that did not finish within the feed's ``timeout``."""


class LoopBlockedError(Exception):
    """An async feed method that blocked the event loop: its result is dropped, whatever it was."""


# The errors the producer words itself: their message is the reason, and their traceback would show only the producer.
OWN_ERRORS = (SampleError, SampleTimeoutError, LoopBlockedError)
# What a feed whose async method blocked the loop is told to do instead.
BLOCKING_ADVICE = "call blocking code with asyncio.to_thread(), or make it a plain def, which runs in a thread"


class Publisher(Protocol):
    """Where the producer sends what it makes, in order: in-process, the hub."""

    def publish(self, events: Sequence[Tick | FeedStatus]) -> None: ...


class Outbox(Protocol):
    """A feed runner's one exit, for its ticks and its status changes alike: they may wait for the other feeds
    of the same beat, and leave in the order they came."""

    def emit(self, event: Tick | FeedStatus) -> None: ...

    def tick_ended(self) -> None: ...


def _is_number(value: object) -> bool:
    if type(value) is float or type(value) is int:  # nearly every value: no abstract base class check
        return math.isfinite(value)
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _require_mapping(sample: object) -> Mapping[Any, Any]:
    if not isinstance(sample, Mapping):
        raise SampleError(f"sample() returned {type(sample).__name__}, expected a mapping of field to number")
    return sample


def validate(sample: object, fields: tuple[str, ...]) -> tuple[float, ...]:
    """The sample's values in ``fields`` order, or `SampleError` saying what is wrong with it, in a few words
    whatever the size of the sample: wrong fields are counted and the first few named, a bad value quoted short."""
    sample = _require_mapping(sample)
    if len(sample) != len(fields) or any(name not in sample for name in fields):
        raise SampleError(f"sample fields do not match the feed's ({_mismatch(sample, fields)})")
    values = []
    for name in fields:
        value = sample[name]
        if not _is_number(value):
            raise SampleError(f"field {name!r} is {_quote(value)}, expected a finite number")
        values.append(float(value))
    return tuple(values)


def _mismatch(sample: Mapping[Any, Any], fields: tuple[str, ...]) -> str:
    """The fields missing from ``sample`` and those it should not have, counted: what it costs depends on the
    feed's fields, not on how many the sample has."""
    missing = [name for name in fields if name not in sample]  # at most MAX_FIELDS
    parts = [f"missing: {_some(missing, len(missing))}"] if missing else []
    # Every declared field present is a key of the sample: the rest of its keys are unexpected.
    unexpected = len(sample) - (len(fields) - len(missing))
    if unexpected > 0:
        declared = set(fields)
        parts.append(f"unexpected: {_some((key for key in sample if key not in declared), unexpected)}")
    return "; ".join(parts)


def _some(names: Iterable[object], count: int) -> str:
    """``names`` quoted, or when there are more than `NAMED_FIELDS`, how many and the first few."""
    named = ", ".join(_quote(name) for name in itertools.islice(names, NAMED_FIELDS))
    return named if count <= NAMED_FIELDS else f"{count} fields, first: {named}"


_short_repr = reprlib.Repr()
_short_repr.maxstring = _short_repr.maxother = _short_repr.maxlong = QUOTE_CHARS


def _quote(value: object) -> str:
    """``repr(value)`` in about `QUOTE_CHARS` characters; a string of any length costs no more than a short one."""
    try:
        return _short_repr.repr(value)
    except Exception:  # an object whose repr fails, an int too long to print
        return f"a value of type {type(value).__name__}"


def infer_fields(sample: object) -> tuple[Field, ...]:
    """Fields for a feed that declared none, from its first sample: its keys, in order, without units."""
    sample = _require_mapping(sample)
    if not sample:
        raise SampleError("sample() returned no fields")
    if len(sample) > MAX_FIELDS:
        raise SampleError(f"sample() returned {len(sample)} fields, at most {MAX_FIELDS} are allowed")
    try:
        return tuple(Field(name) for name in sample)
    except (ValueError, TypeError) as exc:
        raise SampleError(str(exc)) from None


class FeedThread:
    """One feed's own thread for its plain methods, one call at a time.

    A daemon thread, unlike a ThreadPoolExecutor's: a sample stuck in a blocking call cannot keep the process
    from exiting when the server stops.
    """

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=f"feed-{name}", daemon=True)
        self._thread.start()

    def call(self, function: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run ``function`` in the thread once the calls before it are done; its result comes back on the loop."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.put((function, future))
        return future

    def stop(self) -> None:
        """End the thread once it is done with what it has (a stuck call is simply left behind)."""
        self._calls.put(None)

    def _work(self) -> None:
        while (item := self._calls.get()) is not None:
            function, future = item
            try:
                outcome, failed = function(), False
            except StopIteration:
                # A future cannot hold StopIteration (it means something to coroutines): report it as what it is.
                outcome, failed = RuntimeError(f"{function.__name__}() raised StopIteration"), True
            except BaseException as exc:  # handed to the awaiting coroutine, which decides
                outcome, failed = exc, True
            try:
                future.get_loop().call_soon_threadsafe(_settle, future, outcome, failed)
            except RuntimeError:
                return  # the event loop is closed: the server is gone


def _settle(future: asyncio.Future[Any], outcome: Any, failed: bool) -> None:
    if future.done():
        return
    if failed:
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _overridden(feed: Feed, method: str) -> bool:
    """Whether the feed defines ``method`` itself; the base class's do nothing and need not be run."""
    return getattr(type(feed), method) is not getattr(Feed, method)


def describe(exc: BaseException, limit: int = MAX_ERROR_CHARS) -> str:
    """An error as one short line for statuses and logs: its first ``limit`` characters, and how many more were cut
    (`feeds.status.error_line`), however long its message."""
    text = str(exc)
    if not isinstance(exc, OWN_ERRORS):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return error_line(text, limit)


class FeedRunner:
    """One feed's schedule, thread and status; its ticks and status changes leave through its outbox, in order."""

    def __init__(self, feed: Feed, outbox: Outbox, sequencer: Sequencer, clock: Clock) -> None:
        self.feed = feed
        self._outbox = outbox
        self._sequencer = sequencer
        self._clock = clock
        self.status = FeedStatus(feed.name)
        check_fields(feed)
        self._fields = tuple(field.name for field in feed.fields)
        self._thread = FeedThread(feed.name)
        self._busy: asyncio.Future[Any] | None = None
        # Set by the loop's watchdog, from its thread, while `_busy` blocks the loop: that task, when the loop was last
        # free (monotonic seconds), and the line of the feed's code it was running.
        self._blocking: tuple[asyncio.Future[Any], float, str] | None = None
        self._task: asyncio.Task[None] | None = None
        # The beat being sampled: when its tick was due (start + n x interval, whatever delayed it); None between.
        self.sampling_beat: float | None = None
        self._epoch = 0.0
        self._next_beat = 0  # n of the next beat the timer is set for
        self._timer: object | None = None
        self._set_up = not _overridden(feed, "setup")
        self._setup_delay = feed.interval
        self._setup_retry_at = -math.inf
        self._failure_log = FailureLog(feed.name, clock)

    @property
    def run(self) -> int:
        """The feed's current run (see `feeds.sequencer`)."""
        return self._sequencer.run(self.feed.name)

    def samples_beat(self, beat: float) -> bool:
        """Whether this feed is sampling a tick due on ``beat`` (give or take ``SAME_BEAT``)."""
        return self.sampling_beat is not None and abs(self.sampling_beat - beat) <= SAME_BEAT

    def blocks_loop(self, task: asyncio.Task[Any], since: float) -> bool:
        """Whether ``task``, blocking the event loop since ``since`` (monotonic seconds), is this feed's method: if so
        it is noted, and fails when it ends. Called from the watchdog's thread, while the loop is blocked."""
        if task is not self._busy:
            return False
        self._blocking = (task, since, _running_line(task))
        return True

    def start(self) -> None:
        """Sample now (not a whole interval from now), then on every beat: start + n x interval."""
        if self._timer is not None:
            self._clock.cancel(self._timer)  # started again: one schedule, not two
        self._epoch = self._clock.time()
        self._next_beat = 0
        self._timer = self._clock.call_at(self._epoch, self._on_beat)

    async def stop(self) -> None:
        """No more beats; a tick in progress is abandoned (a sync sample's thread is left to finish on its own, an
        async one is cancelled and given its timeout to end), then the feed is torn down, unless its sample still
        runs."""
        if self._timer is not None:
            self._clock.cancel(self._timer)
            self._timer = None
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])
            self.sampling_beat = None  # a task cancelled before it began never ran its finally
        if self._set_up and _overridden(self.feed, "teardown"):
            self._set_up = False
            if self._busy is not None and not self._busy.done():
                log.warning("feed %s: teardown() skipped: sample() is still running", self.feed.name)
            else:
                try:
                    await self._call(self.feed.teardown, "teardown()")
                except Exception as exc:
                    log.error("feed %s: teardown() failed: %s", self.feed.name, describe(exc))
        self._thread.stop()

    def _on_beat(self) -> None:
        interval = self.feed.interval
        # The latest beat due: beats the loop was too busy for are skipped, not made up in a burst.
        due = max(self._next_beat, math.floor((self._clock.time() - self._epoch) / interval))
        self._next_beat = due + 1
        self._timer = self._clock.call_at(self._epoch + self._next_beat * interval, self._on_beat)
        # Samples never overlap: not while a tick is in progress, nor while a sample abandoned at its timeout still
        # runs (a plain one in the feed's thread, an async one that ignores its cancellation).
        if self.sampling_beat is not None or (self._busy is not None and not self._busy.done()):
            return
        self.sampling_beat = self._epoch + due * interval
        self._task = asyncio.ensure_future(self._tick())

    async def _call(self, method: Callable[[], Any], what: str) -> Any:
        """Run a feed method within the feed's timeout: a coroutine as a task on the loop, a plain one in the feed's
        thread. At the timeout it is abandoned, not waited for: a task is cancelled (it may ignore that), a thread
        cannot be stopped. Either stays `_busy` until it ends, and no other call of the feed starts meanwhile."""
        timeout = self.feed.timeout
        if inspect.iscoroutinefunction(method):
            busy = self._busy = asyncio.ensure_future(method())
        else:
            busy = self._busy = self._thread.call(method)
        busy.add_done_callback(_retrieve)
        try:
            # Not wait_for: it waits for the task it cancels to end, and one that swallows CancelledError never does.
            await asyncio.wait([busy], timeout=timeout)
        except asyncio.CancelledError:
            # stop(): a task is cancelled with the tick, and given its timeout to end, so that teardown() may follow.
            if isinstance(busy, asyncio.Task):
                busy.cancel()
                await asyncio.wait([busy], timeout=timeout)
            raise
        if self._blocking is not None and self._blocking[0] is busy:
            _, since, where = self._blocking
            self._blocking = None
            busy.cancel()  # if it has not ended: it blocked, it is abandoned as at a timeout
            raise LoopBlockedError(
                f"{what} blocked the event loop for {time.monotonic() - since:.1f} s{where}: {BLOCKING_ADVICE}"
            )
        if not busy.done():
            if isinstance(busy, asyncio.Task):
                busy.cancel()
            raise SampleTimeoutError(f"{what} took longer than {timeout:g} s")
        return busy.result()

    async def _tick(self) -> None:
        try:
            await self._sample_and_publish()
        except Exception:
            # Not the feed's fault (its errors are handled where they happen): a bug downstream of it.
            log.exception("feed %s: handing over a tick failed", self.feed.name)
        finally:
            self.sampling_beat = None
            self._outbox.tick_ended()

    async def _sample_and_publish(self) -> None:
        try:
            if not self._set_up:
                # Half an interval of slack: a retry due at this tick is not put off to the next one.
                if self._clock.time() + self.feed.interval / 2 < self._setup_retry_at:
                    return
                await self._setup()
            sample = await self._call(self.feed.sample, "sample()")
            fields = self._fields or tuple(field.name for field in infer_fields(sample))
            values = validate(sample, fields)
            # Fixed only once a sample has passed: a refused first sample must not decide them. They travel on with
            # the ticks (the hub takes them from the first); the feed itself is not changed.
            self._fields = fields
        except Exception as exc:
            self._fail(exc)
            return
        run, seq = self._sequencer.next(self.feed.name)
        self._outbox.emit(Tick(self.feed.name, run, seq, self._clock.wall(), self._fields, values))
        if self.status.health is not Health.OK:
            if self.status.health is Health.FAILING:
                self._failure_log.recovered()
            self._set_status(FeedStatus(self.feed.name, Health.OK, self.status.failures))

    async def _setup(self) -> None:
        try:
            await self._call(self.feed.setup, "setup()")
        except Exception as exc:
            self._setup_retry_at = self._clock.time() + self._setup_delay
            self._setup_delay = min(self._setup_delay * 2, MAX_SETUP_DELAY)
            raise SetupError(SETUP_FAILED + describe(exc, MAX_ERROR_CHARS - len(SETUP_FAILED))) from exc
        self._set_up = True
        self._setup_delay = self.feed.interval

    def _fail(self, exc: Exception) -> None:
        # A failed setup() reports its cause; the traceback that helps is the cause's.
        cause = exc.__cause__ if isinstance(exc, SetupError) and exc.__cause__ is not None else exc
        reason = str(exc) if isinstance(exc, SetupError) else describe(exc)
        self._set_status(FeedStatus(self.feed.name, Health.FAILING, self.status.failures + 1, reason))
        what = "" if isinstance(exc, SetupError) else "sample skipped: "
        self._failure_log.failed(cause, what + reason)

    def _set_status(self, status: FeedStatus) -> None:
        self.status = status
        self._outbox.emit(status)  # the same exit as ticks: a status never overtakes the tick before it


class FailureLog:
    """What one feed's failures write to the log, however often it fails.

    Each kind of error (its exception type and where it was raised, so that a message naming a changing value is
    still one kind) is logged the first time, with its traceback when it comes from the feed's own code, and again
    only after ``FAILURE_LOG_INTERVAL`` without it; so is a recovery. Everything else is counted, and a summary line
    at most once an interval says how many failures and recoveries were held back. So a feed that fails every other
    sample writes its traceback once, its recovery once, then a line a minute: not a traceback per failure, as a
    throttle per failing streak would.
    """

    def __init__(self, feed: str, clock: Clock) -> None:
        self._feed = feed
        self._clock = clock
        # Per kind of error, and for RECOVERY: a line the first time, the next only after a quiet interval.
        self._lines = LineBudget(1 / FAILURE_LOG_INTERVAL, 1, MAX_ERROR_KINDS, clock.time, quiet=True)
        self._next_summary: float | None = None  # due an interval after the first line
        self._unlogged_failures = 0
        self._unlogged_recoveries = 0
        self._streak = 0  # failures since the last recovery
        self._latest = ""

    def failed(self, cause: BaseException, reason: str) -> None:
        now = self._clock.time()
        self._summarize(now)
        self._streak += 1
        self._latest = reason
        if self._lines.take(_kind(cause)) is not None:
            # A traceback helps with an exception from the feed's code, not with a refused value or a timeout.
            traceback = not isinstance(cause, OWN_ERRORS)
            self._logged(now)
            log.error("feed %s: %s", self._feed, reason, exc_info=cause if traceback else None)
        else:
            self._unlogged_failures += 1

    def recovered(self) -> None:
        now = self._clock.time()
        self._summarize(now)
        if self._lines.take(RECOVERY) is not None:
            self._logged(now)
            log.info("feed %s: recovered after %d failures", self._feed, self._streak)
        else:
            self._unlogged_recoveries += 1
        self._streak = 0

    def _logged(self, now: float) -> None:
        if self._next_summary is None:
            self._next_summary = now + FAILURE_LOG_INTERVAL

    def _summarize(self, now: float) -> None:
        """Say how many lines were held back, when a summary is due."""
        if not (self._unlogged_failures or self._unlogged_recoveries):
            return
        if self._next_summary is not None and now < self._next_summary:
            return
        self._next_summary = now + FAILURE_LOG_INTERVAL
        recoveries = f" and {self._unlogged_recoveries} recoveries" if self._unlogged_recoveries else ""
        log.error(
            "feed %s: %d more failures%s not logged since the last summary (latest: %s)",
            self._feed,
            self._unlogged_failures,
            recoveries,
            self._latest,
        )
        self._unlogged_failures = self._unlogged_recoveries = 0


def _kind(error: BaseException) -> tuple[str, str]:
    """An error's type and where it was raised: what stays the same when a failure repeats."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return type(error).__name__, where


def _running_line(task: asyncio.Task[Any]) -> str:
    """`` (at FILE:LINE)``: where the coroutine of ``task``, and those it awaits, runs now; "" when that is unknown."""
    coroutine: Any = task.get_coro()
    frame = None
    while getattr(coroutine, "cr_frame", None) is not None:
        frame = coroutine.cr_frame
        coroutine = coroutine.cr_await
    if frame is None:
        return ""
    return f" (at {frame.f_code.co_filename.rpartition('/')[2]}:{frame.f_lineno})"


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A sample abandoned at its timeout may fail later, with nobody awaiting it: mark its error as seen.
    if not future.cancelled():
        future.exception()


class Producer:
    """Samples feeds on their intervals and publishes their ticks and status changes.

    ``sequencer`` gives each tick its run and seq (this process's own by default); ``clock`` gives the time and the
    timers (the event loop's by default).
    """

    def __init__(
        self,
        feeds: Iterable[Feed],
        publisher: Publisher,
        *,
        sequencer: Sequencer | None = None,
        clock: Clock | None = None,
        batch_window: float = BATCH_WINDOW,
    ) -> None:
        self._publisher = publisher
        self._clock = clock or LoopClock()
        self._batch_window = batch_window
        sequencer = sequencer or LocalSequencer()
        self.runners = {feed.name: FeedRunner(feed, self, sequencer, self._clock) for feed in feeds}
        self._batch: list[Tick | FeedStatus] = []
        self._beat = 0.0  # when the batch's ticks were due
        self._deadline: object | None = None

    def add(self, feed: Feed, sequencer: Sequencer, last: Mapping[str, float] | None = None) -> None:
        """Start sampling one more feed, now, numbering its ticks with ``sequencer``: in a cluster, when this process
        becomes the feed's leader. ``last``, the values of the feed's last published tick, is handed to its
        `Feed.take_over` first, so that it continues rather than starts over."""
        if feed.name in self.runners:
            raise ValueError(f"feed {feed.name!r} is sampled already")
        if last is not None:
            try:
                feed.take_over(last)
            except Exception:
                log.exception("feed %s: take_over() failed; it starts over", feed.name)
        runner = self.runners[feed.name] = FeedRunner(feed, self, sequencer, self._clock)
        runner.start()

    async def remove(self, name: str) -> None:
        """Stop sampling the feed called ``name`` at once (in a cluster: its leadership ended): nothing more of it is
        published, not even a tick in progress; then it is torn down as `stop` does."""
        runner = self.runners.pop(name)
        self._batch = [event for event in self._batch if event.feed != name]
        await runner.stop()

    def emit(self, event: Tick | FeedStatus) -> None:
        """A feed's tick or status change: published now, or batched until the other feeds of its beat are done."""
        if event.feed not in self.runners:
            return  # removed while it sampled: it publishes nothing more
        if not self._batch:
            beat = self.runners[event.feed].sampling_beat
            self._beat = self._clock.time() if beat is None else beat
        self._batch.append(event)
        if self._beat_is_sampling(event.feed):
            if self._deadline is None:
                self._deadline = self._clock.call_at(self._clock.time() + self._batch_window, self.flush)
        else:
            self.flush()

    def tick_ended(self) -> None:
        """A feed finished a tick, with or without a sample: a batch may be waiting for it."""
        if self._batch and not self._beat_is_sampling():
            self.flush()

    def _beat_is_sampling(self, besides: str = "") -> bool:
        return any(runner.samples_beat(self._beat) for name, runner in self.runners.items() if name != besides)

    def flush(self) -> None:
        """Publish the batch now, in the order it came."""
        if self._deadline is not None:
            self._clock.cancel(self._deadline)
            self._deadline = None
        events, self._batch = self._batch, []
        if events:
            self._publisher.publish(events)

    def loop_blocked(self, task: asyncio.Task[Any] | None, since: float) -> bool:
        """The loop's watchdog says ``task`` blocks the event loop, since ``since`` (monotonic seconds): whether it is a
        feed's method, which then fails when it ends (`feeds.watchdog`). Called from the watchdog's thread."""
        if task is None:
            return False
        return any(runner.blocks_loop(task, since) for runner in list(self.runners.values()))

    def start(self) -> None:
        """Start every feed's schedule."""
        for runner in self.runners.values():
            runner.start()

    async def stop(self) -> None:
        """Stop every schedule, tear the feeds down and release their threads."""
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()))
        self.flush()
