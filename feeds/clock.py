"""Time for the core: one source of "now" and of timers, so that tests can drive a schedule by hand.

The producer reads the time and sets its timers only through a `Clock`. `LoopClock` is the running event loop's
(Tornado's `IOLoop`, monotonic) and the system's wall clock for timestamps; a test passes a clock it advances
itself. Everything here counts seconds; Tornado's `PeriodicCallback` counts milliseconds, and `MS_PER_SECOND` is
the one conversion between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from tornado.ioloop import IOLoop

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
    """The current IOLoop's clock and timers, and the system's wall clock."""

    def time(self) -> float:
        return IOLoop.current().time()

    def wall(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> object:
        return IOLoop.current().call_at(when, callback)

    def cancel(self, handle: object) -> None:
        IOLoop.current().remove_timeout(handle)
