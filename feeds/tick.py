"""The Tick: one immutable sample of one feed, as it travels from the producer to the fan-out.

A tick is encoded once per wire format (see `feeds.codec`); nothing downstream re-encodes it per client.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tick"]


@dataclass(frozen=True, slots=True)
class Tick:
    """One sample of a feed.

    ``run`` identifies the feed's run (it changes when the server restarts); ``seq`` is 1 for a run's first tick and
    rises by exactly 1 per tick; ``ts`` is Unix seconds; ``values`` holds one float per field, in ``fields`` order.
    """

    feed: str
    run: int
    seq: int
    ts: float
    fields: tuple[str, ...]
    values: tuple[float, ...]
