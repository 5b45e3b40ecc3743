"""A feed's history: its recent encoded ticks, so that a new client paints its charts at once and a client that
lost its connection gets back exactly what it missed.

`History` keeps at most ``max_ticks`` ticks, none older than ``max_seconds`` before the newest (by their ``ts``),
and at most ``max_bytes`` of them (their frames in every format and the record around them, `HELD_TICK_OVERHEAD`),
in order. It holds the ticks as the hub encoded them (`feeds.encoded`): a replay sends those very bytes, and
encodes nothing again. `History.last` and `History.since` answer the two questions a client may ask: the last N
ticks, or every tick after a ``(run, seq)`` it already has, saying whether some of those are no longer held (a
``gap``).

A `Replay` is a cursor into the history, not a copy: a range of seqs, built in constant time whatever its length,
whose frames are read as the connection takes them (`Replay.take`). What a range costs to send, in bytes, is known
at once from running totals, so that a replay can be charged for its bytes before any of it is written, and cut
to what a budget allows (`Replay.newest_within`). Ticks the history lets go of while a slow client is still being
sent its replay are skipped: that client sees ``seq`` jump, as a slow client's coalesced ticks do.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Iterator, Sequence
from typing import overload

from .codec import Format
from .encoded import EncodedTick
from .tick import Tick

__all__ = [
    "HELD_TICK_OVERHEAD",
    "HISTORY_BYTES",
    "HISTORY_SECONDS",
    "HISTORY_TICKS",
    "History",
    "Replay",
    "tick_cost",
    "typical_tick",
]

# What a feed's history holds by default: an hour, at most an hour of a 10 Hz feed, and at most 64 MiB.
HISTORY_SECONDS = 3600.0
HISTORY_TICKS = 36_000
HISTORY_BYTES = 64 * 1024 * 1024
# The memory a held tick takes besides its frames' bytes: the record, the two bytes objects' headers, a float and
# two ints, and its slots in the history's lists (measured with sys.getsizeof; a test keeps it honest).
HELD_TICK_OVERHEAD = 2 * sys.getsizeof(b"") + 208
# Dropped ticks are let go of in batches of at least this many, so that dropping the oldest costs O(1) a tick.
COMPACT_AFTER = 1024


def typical_tick(feed: str, fields: tuple[str, ...]) -> EncodedTick:
    """A tick of ``fields`` whose values are as wide as a price or a byte count usually is: what one of the feed's
    ticks costs held, before it has any (`tick_cost`)."""
    return EncodedTick.of(Tick(feed, 1, 1, 1764694800.0, fields, (123456.789,) * len(fields)))


def tick_cost(tick: EncodedTick) -> int:
    """What holding ``tick`` costs in memory, about: its frames, and the record around them."""
    return len(tick.json) + len(tick.binary) + HELD_TICK_OVERHEAD


class History:
    """One feed's ring of recent encoded ticks, with running totals of their frames' bytes."""

    def __init__(self, max_ticks: int, max_seconds: float, max_bytes: int = HISTORY_BYTES) -> None:
        self.max_ticks = max_ticks
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        # The held ticks are _ticks[_start:]: dropping the oldest moves _start, and the list is compacted now and
        # then, so that any held tick is found by its seq in O(1).
        self._ticks: list[EncodedTick] = []
        self._start = 0
        # Running totals, one entry per entry of _ticks: the bytes of every frame up to and including that tick's,
        # in each format, and of what holding it costs.
        self._json_total: list[int] = []
        self._binary_total: list[int] = []
        self._held_total: list[int] = []
        # The newest tick's run and seq, held or not: what a ``since`` is compared with.
        self._newest: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self._ticks) - self._start

    @property
    def run(self) -> int | None:
        return self._newest[0] if self._newest else None

    @property
    def newest(self) -> tuple[int, int] | None:
        """The newest tick's run and seq, held or not (None before the first)."""
        return self._newest

    @property
    def oldest_seq(self) -> int | None:
        """The seq of the oldest tick held (None when none is)."""
        return self._ticks[self._start].seq if len(self) else None

    @property
    def held_bytes(self) -> int:
        """What the held ticks cost, about: their frames and their records (see `tick_cost`)."""
        if not len(self):
            return 0
        return self._held_total[-1] - self._base(self._held_total)

    def append(self, tick: EncodedTick) -> None:
        """Hold ``tick``, the feed's newest; drop what is now too old, too many, or too much."""
        self._newest = (tick.run, tick.seq)
        cost = tick_cost(tick)
        if not self.max_ticks or cost > self.max_bytes:
            self._clear()
            return
        if len(self) and self._ticks[-1].run != tick.run:
            self._clear()  # a new run: the old one's seqs mean nothing to it
        self._ticks.append(tick)
        self._json_total.append(self._last(self._json_total) + len(tick.json))
        self._binary_total.append(self._last(self._binary_total) + len(tick.binary))
        self._held_total.append(self._last(self._held_total) + cost)
        oldest = tick.ts - self.max_seconds
        while len(self) > self.max_ticks or self.held_bytes > self.max_bytes or self._ticks[self._start].ts < oldest:
            self._start += 1
        if self._start >= COMPACT_AFTER and self._start * 2 >= len(self._ticks):
            self._compact()

    def held(self, run: int, seq: int) -> EncodedTick | None:
        """The tick ``seq`` of ``run``, if it is held."""
        index = self._index(run, seq)
        if index < len(self._ticks) and self._ticks[index].seq == seq and self._ticks[index].run == run:
            return self._ticks[index]
        return None

    def last(self, count: int) -> Replay:
        """The newest ``count`` held ticks (fewer if fewer are held: the feed has not run that long)."""
        count = min(count, len(self))
        return Replay(self, len(self._ticks) - count, False, self.run)

    def since(self, seq: int, run: int | None = None) -> Replay:
        """Every held tick after ``seq`` of ``run`` (the current run when None).

        After a restart the client's run is not the current one: none of what it missed is held, and the current
        run's held ticks come with ``gap``. A ``seq`` older than what is held also makes a ``gap``: the ticks between
        are gone.
        """
        if self._newest is None:
            # Nothing since the server started: a client naming a run has one from before, now gone.
            return Replay(self, len(self._ticks), run is not None, None)
        current, newest = self._newest
        if run is not None and run != current:
            return Replay(self, self._start, True, current)
        if seq >= newest:
            return Replay(self, len(self._ticks), False, current)
        oldest = self.oldest_seq
        if oldest is None or seq < oldest - 1:
            return Replay(self, self._start, True, current)
        # Held ticks are consecutive (seqs in a run rise by one): the tick after ``seq`` sits at a known place.
        return Replay(self, self._start + seq + 1 - oldest, False, current)

    # -- what a Replay reads ------------------------------------------------------------------------------------

    def _index(self, run: int, seq: int) -> int:
        """Where the tick ``seq`` of ``run`` is, or would be, in _ticks; past the end when it is not held yet, at
        _start when it is held no more (or the run has ended)."""
        if not len(self) or self._ticks[-1].run != run:
            return len(self._ticks)
        return max(self._start, min(len(self._ticks), self._start + seq - self._ticks[self._start].seq))

    def _totals(self, fmt: Format) -> list[int]:
        return self._json_total if fmt is Format.JSON else self._binary_total

    def _bytes_between(self, first: int, end: int, fmt: Format) -> int:
        totals = self._totals(fmt)
        if end <= first:
            return 0
        return totals[end - 1] - (totals[first - 1] if first else 0)

    def _first_within(self, end: int, fmt: Format, budget: int) -> int:
        """The smallest index ``first`` such that the ticks first..end-1 take at most ``budget`` bytes in ``fmt``."""
        totals = self._totals(fmt)
        if end <= self._start:
            return end
        ceiling = totals[end - 1]
        if ceiling - self._base(totals) <= budget:
            return self._start  # all of it fits
        # totals[first - 1] >= ceiling - budget; totals rise, so bisect on them.
        first = bisect.bisect_left(totals, ceiling - budget, self._start, end) + 1
        return max(self._start, min(first, end))

    # -- upkeep -------------------------------------------------------------------------------------------------

    @staticmethod
    def _last(totals: list[int]) -> int:
        return totals[-1] if totals else 0

    def _base(self, totals: list[int]) -> int:
        return totals[self._start - 1] if self._start else 0

    def _clear(self) -> None:
        self._ticks.clear()
        self._json_total.clear()
        self._binary_total.clear()
        self._held_total.clear()
        self._start = 0

    def _compact(self) -> None:
        """Let go of the dropped ticks; the running totals start again from the first held one."""
        drop = self._start
        del self._ticks[:drop]
        for totals in (self._json_total, self._binary_total, self._held_total):
            base = totals[drop - 1]
            totals[:] = [total - base for total in totals[drop:]]
        self._start = 0


class Replay(Sequence[EncodedTick]):
    """Held ticks to send, oldest first: a cursor from a tick of the history to the tick that was its newest when
    the replay was made (ticks that come later are live, not replayed).

    ``gap``: some of the ticks asked for are not held (too old, of another run than the one asked about, or cut by
    a budget); ``run``: the feed's current run (None before its first tick). As a sequence it is the held ticks it
    covers now; `take` reads their frames, advancing the cursor.
    """

    __slots__ = ("_end_seq", "_next_seq", "_run", "gap", "history", "run")

    def __init__(self, history: History, first: int, gap: bool, run: int | None) -> None:
        """``first``: the index, in the history's list as it is now, of the first tick to send."""
        self.history = history
        self.gap = gap
        self.run = run
        ticks = history._ticks
        # Seqs, not indexes: the history's list may be compacted while the replay waits to be read.
        self._run = ticks[-1].run if len(history) else None
        self._end_seq = ticks[-1].seq if len(history) else 0
        self._next_seq = ticks[first].seq if first < len(ticks) else self._end_seq + 1

    @property
    def ticks(self) -> Replay:
        """The held ticks it covers (itself: a sequence)."""
        return self

    def _span(self) -> tuple[int, int]:
        if self._run is None or self._next_seq > self._end_seq:
            return 0, 0
        history = self.history
        first = history._index(self._run, self._next_seq)
        end = history._index(self._run, self._end_seq + 1)
        return first, max(first, end)

    def __len__(self) -> int:
        first, end = self._span()
        return end - first

    @overload
    def __getitem__(self, index: int) -> EncodedTick: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[EncodedTick]: ...

    def __getitem__(self, index: int | slice) -> EncodedTick | Sequence[EncodedTick]:
        first, end = self._span()
        if isinstance(index, slice):
            return self.history._ticks[first:end][index]
        if not -(end - first) <= index < end - first:
            raise IndexError("replay index out of range")
        return self.history._ticks[first + index if index >= 0 else end + index]

    def __iter__(self) -> Iterator[EncodedTick]:
        first, end = self._span()
        return iter(self.history._ticks[first:end])

    def size(self, fmt: Format) -> int:
        """What sending the rest of it in ``fmt`` takes, in bytes (computed in O(1))."""
        first, end = self._span()
        return self.history._bytes_between(first, end, fmt)

    def newest_within(self, fmt: Format, budget: int) -> None:
        """Keep only the newest ticks whose frames in ``fmt`` fit in ``budget`` bytes; the rest is a ``gap``."""
        first, end = self._span()
        start = self.history._first_within(end, fmt, budget)
        if start > first:
            self.gap = True
            self._next_seq = self.history._ticks[start].seq if start < end else self._end_seq + 1

    def take(self, fmt: Format, max_bytes: int) -> list[bytes]:
        """The next frames in ``fmt``, oldest first, about ``max_bytes`` of them (at least one while any is left),
        and the cursor moves past them; empty once it is all sent."""
        first, end = self._span()
        if first >= end:
            self._next_seq = self._end_seq + 1
            return []
        ticks = self.history._ticks
        frames: list[bytes] = []
        size = 0
        index = first
        while index < end:
            data = ticks[index].frame(fmt)
            if frames and size + len(data) > max_bytes:
                break
            frames.append(data)
            size += len(data)
            index += 1
        self._next_seq = ticks[index - 1].seq + 1
        return frames
