"""The producer: runs every feed on its own schedule and publishes each good sample as a `Tick`.

Each feed gets a `tornado.ioloop.PeriodicCallback`. A plain ``sample()`` runs in a thread of the feed's own, so a
slow or blocked one never stalls the event loop or another feed; an ``async def sample()`` runs on the loop. Either
is abandoned after the feed's ``timeout`` (an async one is cancelled), and a sample still running when the next tick
comes is not started twice. A sample that raises or returns something malformed is logged (the traceback once per
failing streak, then a summary at most once a minute) and skipped: the feed keeps its schedule, and nothing
malformed reaches a client. A failing ``setup()`` is retried with a growing delay.

The producer knows nothing of subscribers: it hands ticks and status changes to a `Publisher` (the hub's seam).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from numbers import Real
from typing import Any, Protocol

from tornado.ioloop import IOLoop, PeriodicCallback

from .feed import Feed, Field
from .status import FeedStatus, Health
from .tick import Tick

__all__ = ["MAX_FIELDS", "Producer", "Publisher", "SampleError", "SampleTimeoutError", "new_run_id", "validate"]

log = logging.getLogger("dashboard.producer")

MS_PER_SECOND = 1000.0
MAX_FIELDS = 256
# While a feed keeps failing, a summary line is logged at most this often (seconds).
FAILURE_LOG_INTERVAL = 60.0
# A failing setup() is retried after interval, 2 x interval, 4 x interval ..., at most this many seconds apart.
MAX_SETUP_DELAY = 60.0


class SampleError(ValueError):
    """A sample that cannot become a tick: not a mapping, wrong fields, a value that is not a finite number."""


class SampleTimeoutError(TimeoutError):
    """A feed method that did not finish within the feed's ``timeout``."""


class Publisher(Protocol):
    """Where the producer sends what it makes: in-process, the hub."""

    def publish(self, tick: Tick) -> None: ...

    def publish_status(self, status: FeedStatus) -> None: ...


def new_run_id() -> int:
    """A fresh identity for a run of a feed: a non-zero 32-bit integer."""
    return secrets.randbits(32) or 1


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def validate(sample: object, fields: tuple[str, ...]) -> tuple[float, ...]:
    """The sample's values in ``fields`` order, or `SampleError` saying what is wrong with it."""
    if not isinstance(sample, Mapping):
        raise SampleError(f"sample() returned {type(sample).__name__}, expected a mapping of field to number")
    if len(sample) != len(fields) or any(name not in sample for name in fields):
        missing = sorted(set(fields) - set(sample))
        extra = sorted(set(map(str, sample)) - set(fields))
        raise SampleError(f"sample fields do not match the feed's (missing: {missing}, unexpected: {extra})")
    values = []
    for name in fields:
        value = sample[name]
        if not _is_number(value):
            raise SampleError(f"field {name!r} is {value!r}, expected a finite number")
        values.append(float(value))
    return tuple(values)


def infer_fields(sample: object) -> tuple[Field, ...]:
    """Fields for a feed that declared none, from its first sample: its keys, in order, without units."""
    if not isinstance(sample, Mapping):
        raise SampleError(f"sample() returned {type(sample).__name__}, expected a mapping of field to number")
    if not sample:
        raise SampleError("sample() returned no fields")
    if len(sample) > MAX_FIELDS:
        raise SampleError(f"sample() returned {len(sample)} fields, at most {MAX_FIELDS} are allowed")
    try:
        return tuple(Field(name) for name in sample)
    except (ValueError, TypeError) as exc:
        raise SampleError(str(exc)) from None


def describe(exc: BaseException) -> str:
    """An error as one short line for statuses and logs."""
    text = " ".join(str(exc).split())
    if isinstance(exc, (SampleError, SampleTimeoutError)):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class FeedRunner:
    """One feed's schedule, thread, run identity, sequence numbers and status."""

    def __init__(self, feed: Feed, publisher: Publisher) -> None:
        self.feed = feed
        self.run = new_run_id()
        self.seq = 0
        self.status = FeedStatus(feed.name)
        self._publisher = publisher
        self._fields = tuple(field.name for field in feed.fields)
        if len(self._fields) > MAX_FIELDS:
            raise ValueError(f"feed {feed.name}: {len(self._fields)} fields, at most {MAX_FIELDS} are allowed")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"feed-{feed.name}")
        self._busy: asyncio.Future[Any] | None = None
        self._ticking = False
        self._set_up = False
        self._setup_delay = feed.interval
        self._setup_retry_at = -math.inf
        self._last_failure_log = -math.inf
        self._callback = PeriodicCallback(self._tick, feed.interval * MS_PER_SECOND)

    def start(self) -> None:
        self._callback.start()
        # Do not wait a whole interval for the first sample.
        IOLoop.current().add_callback(self._tick)

    async def stop(self) -> None:
        self._callback.stop()
        if self._set_up:
            self._set_up = False
            try:
                await self._call(self.feed.teardown, "teardown()")
            except Exception as exc:
                log.error("feed %s: teardown() failed: %s", self.feed.name, describe(exc))
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _call(self, method: Callable[[], Any], what: str) -> Any:
        """Run a feed method within the feed's timeout: a coroutine on the loop, a plain one in the feed's thread."""
        timeout = self.feed.timeout
        try:
            if inspect.iscoroutinefunction(method):
                return await asyncio.wait_for(method(), timeout)
            self._busy = asyncio.get_running_loop().run_in_executor(self._executor, method)
            self._busy.add_done_callback(_retrieve)
            # shield: on timeout the thread cannot be stopped; keep its future to know when it is free again.
            return await asyncio.wait_for(asyncio.shield(self._busy), timeout)
        except asyncio.TimeoutError:
            raise SampleTimeoutError(f"{what} took longer than {timeout:g} s") from None

    async def _tick(self) -> None:
        # Samples never overlap: not while a tick is in progress, nor while a sync sample abandoned at its timeout
        # still holds the feed's thread.
        if self._ticking or (self._busy is not None and not self._busy.done()):
            return
        self._ticking = True
        try:
            await self._sample_and_publish()
        finally:
            self._ticking = False

    async def _sample_and_publish(self) -> None:
        try:
            if not self._set_up:
                if IOLoop.current().time() < self._setup_retry_at:
                    return
                await self._setup()
            sample = await self._call(self.feed.sample, "sample()")
            if not self._fields:
                self.feed.fields = infer_fields(sample)
                self._fields = tuple(field.name for field in self.feed.fields)
            values = validate(sample, self._fields)
        except Exception as exc:
            self._fail(exc)
            return
        self.seq += 1
        self._publisher.publish(Tick(self.feed.name, self.run, self.seq, time.time(), self._fields, values))
        if self.status.health is not Health.OK:
            if self.status.health is Health.FAILING:
                log.info("feed %s: recovered after %d failures", self.feed.name, self.status.failures)
            self._set_status(FeedStatus(self.feed.name, Health.OK, self.status.failures))

    async def _setup(self) -> None:
        try:
            await self._call(self.feed.setup, "setup()")
        except Exception:
            self._setup_retry_at = IOLoop.current().time() + self._setup_delay
            self._setup_delay = min(self._setup_delay * 2, MAX_SETUP_DELAY)
            raise
        self._set_up = True
        self._setup_delay = self.feed.interval

    def _fail(self, exc: Exception) -> None:
        reason = describe(exc)
        first_of_streak = self.status.health is not Health.FAILING
        self._set_status(FeedStatus(self.feed.name, Health.FAILING, self.status.failures + 1, reason))
        now = time.monotonic()
        if first_of_streak:
            self._last_failure_log = now
            # A traceback helps with an exception from the feed's code, not with a refused value or a timeout.
            traceback = not isinstance(exc, (SampleError, SampleTimeoutError))
            log.error("feed %s: sample skipped: %s", self.feed.name, reason, exc_info=exc if traceback else None)
        elif now - self._last_failure_log >= FAILURE_LOG_INTERVAL:
            self._last_failure_log = now
            log.error("feed %s: still failing (%d failures): %s", self.feed.name, self.status.failures, reason)

    def _set_status(self, status: FeedStatus) -> None:
        self.status = status
        self._publisher.publish_status(status)


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A sample abandoned at its timeout may fail later, with nobody awaiting it: mark its error as seen.
    if not future.cancelled():
        future.exception()


class Producer:
    """Samples feeds on their intervals and publishes their ticks and status changes."""

    def __init__(self, feeds: Iterable[Feed], publisher: Publisher) -> None:
        self.runners = {feed.name: FeedRunner(feed, publisher) for feed in feeds}

    def start(self) -> None:
        """Start every feed's schedule on the current IOLoop."""
        for runner in self.runners.values():
            runner.start()

    async def stop(self) -> None:
        """Stop every schedule, tear the feeds down and release their threads."""
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()))
