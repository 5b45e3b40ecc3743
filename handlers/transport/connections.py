"""The registry of open WebSocket connections: the one place that knows every client of the server.

A connection is in it from the end of its handshake until it closes. The keepalive pings them from it; whatever
must reach every connection (a limit on their number, shutdown, token expiry, metrics) starts here too.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

__all__ = ["Connections"]

C = TypeVar("C", bound=Hashable)


class Connections(Generic[C]):
    """Open connections, in the order they opened, each with the client (address) it came from."""

    def __init__(self) -> None:
        # A dict rather than a set: insertion order keeps rounds over the connections stable and predictable.
        self._open: dict[C, str] = {}
        self._per_client: dict[str, int] = {}
        self.closing = False  # the server is shutting down: no connection may open any more

    def add(self, connection: C, client: str = "") -> None:
        if connection in self._open:
            return
        self._open[connection] = client
        self._per_client[client] = self._per_client.get(client, 0) + 1

    def discard(self, connection: C) -> None:
        """Forget ``connection``; does nothing if it is not here."""
        client = self._open.pop(connection, None)
        if client is None:
            return
        left = self._per_client[client] - 1
        if left:
            self._per_client[client] = left
        else:
            del self._per_client[client]

    def from_client(self, client: str) -> int:
        """How many of the open connections came from ``client``."""
        return self._per_client.get(client, 0)

    def __contains__(self, connection: object) -> bool:
        return connection in self._open

    def __len__(self) -> int:
        return len(self._open)

    def __iter__(self) -> Iterator[C]:
        """The connections open now (a snapshot: connections may open and close while it is used)."""
        return iter(tuple(self._open))
