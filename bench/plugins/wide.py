"""The widest feed a plugin may declare, for the hostile-load benchmark (bench/attack.py): 256 fields with names of
64 characters, a tick every 0.1 s (10 Hz).

A tick of it is about 20 KB of JSON, so a subscribe with a long ``history`` asks for the most bytes a held tick can
make (docs/performance.md: about 22 KB held each, both formats). Load it with ``--feed bench/plugins/wide.py``.
"""

from __future__ import annotations

import random

from feeds.feed import MAX_FIELD_NAME, MAX_FIELDS, Feed, Field, Sample

__all__ = ["WideFeed"]

PREFIX = "field_"
# Every name as long as a name may be: the prefix, then the field's index padded with zeros.
FIELD_NAMES = tuple(f"{PREFIX}{index:0{MAX_FIELD_NAME - len(PREFIX)}d}" for index in range(MAX_FIELDS))
MAX_VALUE = 10_000.0
DECIMALS = 4  # values as wide as a price's


class WideFeed(Feed):
    """256 fields of 64-character names, each a random value, ten times a second."""

    name = "wide"
    description = "The widest feed a plugin may declare: 256 fields of 64-character names at 10 Hz."
    interval = 0.1
    fields = tuple(Field(name) for name in FIELD_NAMES)

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self._rng = random.Random(1)

    async def sample(self) -> Sample:
        # Arithmetic only, as the stocks feed's: cheaper on the event loop than a hand-over to the feed's thread.
        return {name: round(self._rng.uniform(0.0, MAX_VALUE), DECIMALS) for name in FIELD_NAMES}
