"""A clock that a test advances by hand: the producer's schedule and batch window without real time."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

WALL_OFFSET = 1_700_000_000.0  # wall time is monotonic time plus this, so that timestamps look like today's


class Timer:
    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False


class FakeClock:
    """`feeds.clock.Clock` whose time moves only in `advance`, running each timer due at its own time, in order."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._timers: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()  # timers due at the same time run in the order they were set

    def time(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL_OFFSET + self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> object:
        timer = Timer(callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    def cancel(self, handle: object) -> None:
        assert isinstance(handle, Timer)
        handle.cancelled = True

    def pending(self) -> int:
        """How many timers are set and have neither run nor been cancelled."""
        return sum(not timer.cancelled for _, _, timer in self._timers)

    def advance(self, seconds: float = 0.0) -> None:
        """Move time on by ``seconds``, running the timers due on the way (and those they set that are due too)."""
        end = self.now + seconds
        while self._timers and self._timers[0][0] <= end:
            when, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                self.now = max(self.now, when)
                timer.callback()
        self.now = end

    def jump(self, seconds: float) -> None:
        """Move time on by ``seconds`` without running timers, as if the event loop had been busy; the next
        `advance` runs the overdue ones, late."""
        self.now += seconds
