"""Token buckets: the one formula (`refilled`), and the log's one throttle built on it (`LineBudget`).

A bucket holds at most ``burst`` tokens and gains ``rate`` a second; an action takes one. With `refilled` a bucket
is two numbers on whatever owns it: a connection's session rates its messages so, a server with 10,000 connections
counting every byte each one holds. `LineBudget` keeps a bucket of log lines per key: per kind of error of a feed
(`feeds.producer`), per client and per kind of server line (`handlers.security.accesslog`); and of HTTP requests
per client (`handlers.transport.gate`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

__all__ = ["LineBudget", "refilled"]


def refilled(tokens: float, since: float, now: float, rate: float, burst: float) -> float:
    """The tokens of a bucket that held ``tokens`` at ``since`` (seconds), at ``now``."""
    return min(burst, tokens + (now - since) * rate)


@dataclass(slots=True)
class _Bucket:
    lines: float
    since: float
    held: int = 0


class LineBudget:
    """At most ``burst`` lines of each key at once, and ``rate`` more a second: a line over budget is held back and
    counted, and the count goes with the next line its key writes.

    It remembers at most ``max_keys`` keys, the least recent forgotten first (a key forgotten starts again full).
    With ``quiet``, a held-back line restarts its key's refill: a line's worth comes back only after ``1 / rate``
    seconds without a line of the key, so that burst 1 is the first line, then the next after a quiet interval.
    """

    def __init__(
        self, rate: float, burst: int, max_keys: int, clock: Callable[[], float], *, quiet: bool = False
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.quiet = quiet
        self._clock = clock
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: Hashable) -> int | None:
        """Spend a line of ``key``'s budget: None when there is none left (the line is counted as held back), else
        how many lines of ``key`` were held back since its last one."""
        now = self._clock()
        bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
        self._buckets[key] = bucket  # the most recent
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        lines = refilled(bucket.lines, bucket.since, now, self.rate, self.burst)
        bucket.since = now
        if lines < 1:
            bucket.held += 1
            if not self.quiet:
                bucket.lines = lines
            return None
        bucket.lines = lines - 1
        held, bucket.held = bucket.held, 0
        return held
