"""Where each tick's run and seq come from.

A run is one life of a feed: a fresh random identity, and seq counting 1, 2, 3 ... within it. When the server
restarts, every feed starts a new run, so that a client (and a ``since`` request) can tell "the same run, resume"
from "a new run, start over". In one process `LocalSequencer` mints both; the producer asks a `Sequencer` for them,
so that a cluster-wide one can take its place.
"""

from __future__ import annotations

import secrets
from typing import Protocol

__all__ = ["LocalSequencer", "Sequencer", "new_run_id"]


def new_run_id() -> int:
    """A fresh identity for a run of a feed: a non-zero 32-bit integer."""
    return secrets.randbits(32) or 1


class Sequencer(Protocol):
    def run(self, feed: str) -> int:
        """The feed's current run."""

    def next(self, feed: str) -> tuple[int, int]:
        """The run and seq of the feed's next tick."""


class LocalSequencer:
    """This process's runs and seqs: a new run for each feed the first time it is asked about, seq from 1."""

    def __init__(self) -> None:
        self._runs: dict[str, int] = {}
        self._seqs: dict[str, int] = {}

    def run(self, feed: str) -> int:
        if feed not in self._runs:
            self._runs[feed] = new_run_id()
        return self._runs[feed]

    def next(self, feed: str) -> tuple[int, int]:
        run = self.run(feed)
        seq = self._seqs[feed] = self._seqs.get(feed, 0) + 1
        return run, seq
