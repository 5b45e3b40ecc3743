"""The HTTP sockets waiting for a request, in the order a full server closes them; and the silent ones among them.

A socket that holds no request in progress costs its client nothing to lose: it has sent no request yet, or it is
kept alive between two (a client retries an idempotent request on a new socket when a kept-alive one closes). At
its socket limit the HTTP server (`handlers.transport.httpserver`) closes one of them to admit a newcomer, rather
than refuse the newcomer: the oldest of those that have not sent a request yet, else the one kept alive the longest.
A client that holds sockets without sending anything (10,000 of them, opened in two seconds, once kept every other
client out) can then keep nobody out. Of the sockets that have not sent a request, those that have not sent a byte
either are also listed by when they were accepted, for ``--first-byte-timeout``.

No I/O here, and no clock: the server says what happens to each socket and when, and closes what it is told to.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

__all__ = ["IdleSockets"]

S = TypeVar("S", bound=Hashable)


class IdleSockets(Generic[S]):
    """The sockets holding no request in progress, by kind and age (dicts keep insertion order: oldest first)."""

    def __init__(self) -> None:
        self._new: dict[S, None] = {}  # no request yet, in the order they were accepted
        self._kept: dict[S, None] = {}  # kept alive between requests, in the order they began to wait
        self._unheard: dict[S, float] = {}  # no byte yet either, as far as the server has looked: when accepted

    def __len__(self) -> int:
        return len(self._new) + len(self._kept)

    def accepted(self, sock: S, now: float) -> None:
        """``sock`` was accepted at ``now`` (seconds): it has sent nothing yet."""
        self._new[sock] = None
        self._unheard[sock] = now

    def waiting(self, sock: S) -> None:
        """``sock`` waits for its next request (its first, or the next on a kept-alive socket)."""
        if sock not in self._new:
            self._kept.pop(sock, None)
            self._kept[sock] = None

    def busy(self, sock: S) -> None:
        """A request's headers arrived on ``sock``: it holds a request in progress, or is a WebSocket now."""
        self.forget(sock)

    def forget(self, sock: S) -> None:
        """``sock`` is closed, or busy; does nothing if it is not here."""
        self._new.pop(sock, None)
        self._kept.pop(sock, None)
        self._unheard.pop(sock, None)

    def first_to_close(self) -> S | None:
        """The socket a full server closes first: the oldest that has sent no request, else the one kept alive
        the longest; None when every socket holds a request."""
        return next(iter(self._new or self._kept), None)

    def next_unheard(self) -> float | None:
        """When the oldest socket not heard from yet was accepted; None when there is none."""
        return next(iter(self._unheard.values()), None)

    def unheard_since(self, deadline: float) -> Iterator[S]:
        """Take out and give, oldest first, the sockets not heard from yet that were accepted at ``deadline`` or
        before; the caller closes those that still have sent nothing, and the others stay waiting for a request."""
        while self._unheard:
            sock, accepted = next(iter(self._unheard.items()))
            if accepted > deadline:
                return
            del self._unheard[sock]
            yield sock
