"""Token buckets, the one way the server rates what a client may do: messages it sends, log lines about it.

A bucket holds at most ``burst`` tokens and gains ``rate`` a second; an action takes one. Kept as two numbers on
whatever owns the bucket (a connection's session, a client's log budget) rather than as an object of its own: a
server with 10,000 connections counts every byte each one holds.
"""

from __future__ import annotations

__all__ = ["refilled"]


def refilled(tokens: float, since: float, now: float, rate: float, burst: float) -> float:
    """The tokens of a bucket that held ``tokens`` at ``since`` (seconds), at ``now``."""
    return min(burst, tokens + (now - since) * rate)
