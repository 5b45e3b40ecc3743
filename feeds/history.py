"""A feed's history: its recent encoded ticks, so that a new client paints its charts at once and a client that
lost its connection gets back exactly what it missed.

`History` keeps at most ``max_ticks`` ticks, none older than ``max_seconds`` before the newest (by their ``ts``),
in order. It holds the ticks as the hub encoded them (`feeds.encoded`): a replay sends those very bytes, and
encodes nothing again. `History.replay` answers the two questions a client may ask: the last N ticks, or every
tick after a ``(run, seq)`` it already has, saying whether some of those are no longer held (a ``gap``).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

from .encoded import EncodedTick

__all__ = ["HISTORY_SECONDS", "HISTORY_TICKS", "History", "Replay"]

# What a feed's history holds by default: an hour, and at most an hour of a 10 Hz feed.
HISTORY_SECONDS = 3600.0
HISTORY_TICKS = 36_000


@dataclass(frozen=True)
class Replay:
    """Held ticks to send, oldest first; ``gap``: some of the ticks asked for are not held (too old, or of another
    run than the one asked about); ``run``: the feed's current run (None before its first tick)."""

    ticks: list[EncodedTick]
    gap: bool
    run: int | None


class History:
    """One feed's ring of recent encoded ticks."""

    def __init__(self, max_ticks: int, max_seconds: float) -> None:
        self.max_ticks = max_ticks
        self.max_seconds = max_seconds
        self._ticks: deque[EncodedTick] = deque(maxlen=max_ticks or None)
        # The newest tick's run and seq, held or not: what a ``since`` is compared with.
        self._newest: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self._ticks)

    @property
    def run(self) -> int | None:
        return self._newest[0] if self._newest else None

    def append(self, tick: EncodedTick) -> None:
        """Hold ``tick``, the feed's newest; drop what is now too old, and the oldest past ``max_ticks``."""
        self._newest = (tick.run, tick.seq)
        if not self.max_ticks:
            return
        ticks = self._ticks
        if ticks and ticks[-1].run != tick.run:
            ticks.clear()  # a new run: the old one's seqs mean nothing to it
        ticks.append(tick)
        oldest = tick.ts - self.max_seconds
        while ticks[0].ts < oldest:
            ticks.popleft()

    def last(self, count: int) -> Replay:
        """The newest ``count`` held ticks (fewer if fewer are held: the feed has not run that long)."""
        count = min(count, len(self._ticks))
        return Replay(list(itertools.islice(self._ticks, len(self._ticks) - count, None)), False, self.run)

    def since(self, seq: int, run: int | None = None) -> Replay:
        """Every held tick after ``seq`` of ``run`` (the current run when None).

        After a restart the client's run is not the current one: none of what it missed is held, and the current
        run's held ticks come with ``gap``. A ``seq`` older than what is held also makes a ``gap``: the ticks between
        are gone.
        """
        ticks = self._ticks
        if self._newest is None:
            # Nothing since the server started: a client naming a run has one from before, now gone.
            return Replay([], run is not None, None)
        current, newest = self._newest
        if run is not None and run != current:
            return Replay(list(ticks), True, current)
        if seq >= newest:
            return Replay([], False, current)
        oldest = ticks[0].seq if ticks else newest + 1
        if seq < oldest - 1:
            return Replay(list(ticks), True, current)
        # Held ticks are consecutive (seqs in a run rise by one): the tick after ``seq`` sits at a known place.
        return Replay(list(itertools.islice(ticks, seq + 1 - oldest, None)), False, current)
