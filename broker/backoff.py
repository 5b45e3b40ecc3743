"""How long a node waits before it tries Redis again: capped exponential backoff with full jitter.

Full jitter (a uniform draw between 0 and the exponential delay) spreads a whole cluster's reconnections after a
Redis restart, instead of bringing every node back on the same beat.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays of ``uniform(0, min(cap, first x 2^n))`` seconds, the n-th since the last `reset`."""

    def __init__(self, first: float, cap: float, rng: random.Random | None = None) -> None:
        self.first = first
        self.cap = cap
        self._attempts = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        """The delay before the next attempt."""
        ceiling = min(self.cap, self.first * 2**self._attempts)
        self._attempts = min(self._attempts + 1, 32)
        return self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        """An attempt succeeded: the next failure starts again from ``first``."""
        self._attempts = 0
