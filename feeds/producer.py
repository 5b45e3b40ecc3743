"""The producer: runs every feed on its own schedule and publishes each good sample as a `Tick`.

Each feed gets a `tornado.ioloop.PeriodicCallback`. A plain ``sample()`` runs in a thread pool so that a slow one
never stalls the event loop; an ``async def sample()`` runs on the loop. A sample that raises or returns something
malformed is logged and skipped: the feed keeps its schedule and nothing malformed reaches a client. The producer
knows nothing of subscribers: it hands ticks to a ``publish`` callable (the hub's seam).
"""

from __future__ import annotations

import inspect
import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from numbers import Real
from typing import Any

from tornado.ioloop import IOLoop, PeriodicCallback

from .feed import Feed
from .tick import Tick

__all__ = ["Producer", "SampleError", "new_run_id"]

log = logging.getLogger("dashboard.producer")

MS_PER_SECOND = 1000.0
# A feed failing on every tick logs its traceback at most this often.
FAILURE_LOG_INTERVAL = 60.0


class SampleError(ValueError):
    """A sample that cannot become a tick: not a mapping, a missing or extra field, a value that is not finite."""


def new_run_id() -> int:
    """A fresh identity for a run of a feed: a non-zero 32-bit integer."""
    return secrets.randbits(32) or 1


def _call(function: Callable[[], Any], executor: ThreadPoolExecutor) -> Any:
    """Run a feed method: a coroutine function on the loop, a plain one in the thread pool."""
    if inspect.iscoroutinefunction(function):
        return function()
    return IOLoop.current().run_in_executor(executor, function)


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
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise SampleError(f"field {name!r} is {value!r}, expected a finite number")
        values.append(float(value))
    return tuple(values)


class FeedRunner:
    """One feed's schedule, run identity, sequence numbers and failure bookkeeping."""

    def __init__(self, feed: Feed, publish: Callable[[Tick], None], executor: ThreadPoolExecutor) -> None:
        self.feed = feed
        self.run = new_run_id()
        self.seq = 0
        self.failures = 0
        self._publish = publish
        self._executor = executor
        self._fields = tuple(field.name for field in feed.fields)
        self._set_up = False
        self._last_failure_log = -math.inf
        self._callback = PeriodicCallback(self._tick, feed.interval * MS_PER_SECOND)

    def start(self) -> None:
        self._callback.start()

    async def stop(self) -> None:
        self._callback.stop()
        if self._set_up:
            self._set_up = False
            try:
                await _call(self.feed.teardown, self._executor)
            except Exception:
                log.exception("feed %s: teardown() failed", self.feed.name)

    async def _tick(self) -> None:
        # PeriodicCallback awaits this coroutine and skips ticks while it runs, so samples never overlap.
        try:
            if not self._set_up:
                await _call(self.feed.setup, self._executor)
                self._set_up = True
            sample = await _call(self.feed.sample, self._executor)
            values = validate(sample, self._fields)
        except Exception as exc:
            self._fail(exc)
            return
        self.seq += 1
        self._publish(Tick(self.feed.name, self.run, self.seq, time.time(), self._fields, values))

    def _fail(self, exc: Exception) -> None:
        self.failures += 1
        now = time.monotonic()
        if now - self._last_failure_log >= FAILURE_LOG_INTERVAL:
            self._last_failure_log = now
            log.error(
                "feed %s: sample skipped (%d failures so far): %s",
                self.feed.name,
                self.failures,
                exc,
                exc_info=not isinstance(exc, SampleError),
            )


class Producer:
    """Samples feeds on their intervals and publishes their ticks."""

    def __init__(self, feeds: Iterable[Feed], publish: Callable[[Tick], None]) -> None:
        self._executor = ThreadPoolExecutor(thread_name_prefix="feed-sample")
        self.runners = {feed.name: FeedRunner(feed, publish, self._executor) for feed in feeds}

    def start(self) -> None:
        """Start every feed's schedule on the current IOLoop."""
        for runner in self.runners.values():
            runner.start()

    async def stop(self) -> None:
        """Stop every schedule, tear the feeds down and release the sampling threads."""
        for runner in self.runners.values():
            await runner.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
