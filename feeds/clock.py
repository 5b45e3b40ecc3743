"""Time for the core: one source of "now" and of timers, so that tests can drive a schedule by hand.

The producer reads the time and sets its timers only through a `Clock`. `LoopClock` is the running asyncio loop's
(monotonic; Tornado runs on it) and the system's wall clock for timestamps; a test passes a clock it advances
itself. Everything here counts seconds; Tornado's `PeriodicCallback` counts milliseconds, and `MS_PER_SECOND` is
the one conversion between them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["MS_PER_SECOND", "Clock", "LoopClock"]

MS_PER_SECOND = 1000.0


class Clock(Protocol):
    """Monotonic time for schedules and delays, wall time for timestamps, and timers."""

    def time(self) -> float:
        """Seconds on a monotonic clock: when things are due."""

    def wall(self) -> float:
        """Unix seconds: when a sample was taken."""

    def call_at(self, when: float, callback: Callable[[], None]) -> object:
        """Run ``callback`` once `time` reaches ``when``; returns a handle for `cancel`."""

    def cancel(self, handle: object) -> None:
        """Forget a timer that has not run yet."""


class LoopClock:
    """The event loop's clock and timers, and the system's wall clock.

    The loop is the one running when the clock is first used, or, before any runs (a test's fixtures start the
    producer before their loop does), the one set as the thread's current loop.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                self._loop = asyncio.get_event_loop_policy().get_event_loop()
        return self._loop

    def time(self) -> float:
        return self.loop.time()

    def wall(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> object:
        return self.loop.call_at(when, callback)

    def cancel(self, handle: object) -> None:
        assert isinstance(handle, asyncio.TimerHandle), f"not a timer of this clock: {handle!r}"
        handle.cancel()
