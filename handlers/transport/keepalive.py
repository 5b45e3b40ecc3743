"""Keepalive for every connection at once: one timer, one pre-built ping frame, dead peers closed.

Tornado's own ``websocket_ping_interval`` runs a ping coroutine and a timer per connection (their cost is in
docs/performance.md); here one `PeriodicCallback` pings every connection through its writer, like any other frame.
It walks the registry of connections (`handlers.transport.connections`) and keeps the time of each connection's
unanswered ping on the connection itself. The work is spread over the interval: the timer fires every
``SLICE_SECONDS`` and pings the next slice of the connections each time, so that pinging thousands of clients (a
send each, and their pongs to read) never holds the event loop in the way of a tick for more than a millisecond or
two. When a connection's turn comes and its previous ping is still unanswered ``timeout`` seconds
after it went out, it is closed: the timeout is checked once an interval, not to the second. A connection that
opens in the middle of a round is pinged from the next round on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from tornado.ioloop import PeriodicCallback

from feeds.clock import MS_PER_SECOND
from feeds.frames import Opcode, frame

from .connections import Connections

__all__ = ["Keepalive", "Pingable"]

SLICE_SECONDS = 0.05
PING = frame(b"", Opcode.PING)
PING_KEY = ("ping",)  # a slow connection needs only the newest ping


class Pingable(Protocol):
    """What the keepalive needs of a connection: ``ping_sent`` is when its oldest unanswered ping went out (keepalive
    clock seconds), None when nothing is outstanding."""

    ping_sent: float | None

    def __hash__(self) -> int: ...

    def send_frame(self, data: bytes, key: Hashable) -> None: ...

    def close_dead(self) -> None: ...


P = TypeVar("P", bound=Pingable)


class Keepalive(Generic[P]):
    """Pings every connection of the registry about once per ``interval`` (never two intervals apart); closes one
    whose ping is still unanswered ``timeout`` seconds after it went out, when its next turn comes."""

    def __init__(
        self,
        connections: Connections[P],
        interval: float,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.timeout = timeout
        self.slices = max(1, round(interval / SLICE_SECONDS))  # timer ticks per interval
        self._connections = connections
        self._clock = clock
        self._callback: PeriodicCallback | None = None
        self._round: list[P] = []  # this interval's connections, pinged a slice per tick
        self._next = 0  # where in the round the next slice starts
        self._tick = 0

    def start(self) -> None:
        """Run the timer (a connection has opened); it stops by itself once no connection is left."""
        if self._callback is None:
            self._callback = PeriodicCallback(self.ping_slice, self.interval / self.slices * MS_PER_SECOND)
            self._callback.start()

    def pong(self, connection: P) -> None:
        """``connection`` answered: nothing is outstanding."""
        connection.ping_sent = None

    def ping_slice(self) -> None:
        """One tick of the timer: the next slice of this interval's round (a new round every ``slices`` ticks)."""
        if not self._connections:
            self._stop()
            return
        if self._tick % self.slices == 0:
            self._round, self._next = list(self._connections), 0
        left = len(self._round) - self._next
        share = -(-left // (self.slices - self._tick % self.slices))  # what is left, spread over the ticks left
        batch = self._round[self._next : self._next + share]
        self._next += share
        self._tick += 1
        now = self._clock()
        for connection in batch:
            if connection not in self._connections:
                continue  # gone since the round began
            sent = connection.ping_sent
            if sent is not None and now - sent > self.timeout:
                self._connections.discard(connection)
                connection.close_dead()
                continue
            if sent is None:
                connection.ping_sent = now
            connection.send_frame(PING, PING_KEY)

    def _stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        self._round, self._next, self._tick = [], 0, 0
