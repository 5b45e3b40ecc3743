"""The registry of open connections: the one place that counts the server's clients and applies its limits.

It counts two kinds of socket per client: WebSockets, from the end of their handshake until they close, and the
HTTP sockets before them (accepted, not yet upgraded or closed; `handlers.transport.httpserver` reports those). A
client is what `handlers.security.clients.client_of` makes of an address (an IPv4 address, an IPv6 /64); callers
pass that. The limits are applied here, from those counts, at both doors:

- `refuse_socket`, as a socket is accepted, before any request is read: a client can hold sockets without ever
  finishing a request, each costing a file descriptor until ``--first-byte-timeout`` or ``--http-idle-timeout``
  cuts it. Every socket counts, HTTP and WebSocket together, against twice the WebSocket limits
  (``--max-connections``, ``--max-connections-per-ip``), so that a client at its WebSocket limit can still load the
  page and its feed list, and against what the file-descriptor limit leaves room for. Behind a reverse proxy
  (``--xheaders``) every socket comes from the proxy, so only the totals apply there. A client over its own limit
  is refused (`Refusal.CLIENT`); at the server's total (`Refusal.SERVER`) the HTTP server first closes a socket
  that holds no request, if it has one (`handlers.transport.idle`), and admits the newcomer in its place.
- `refuse_websocket`, at the handshake: the WebSocket limits themselves, exact, and the shutdown.

The keepalive pings the WebSockets from here; whatever must reach every connection (shutdown, metrics) starts here.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

from handlers.settings import Settings

__all__ = ["SOCKETS_PER_WEBSOCKET", "Connections", "Refusal"]

# Sockets a limit on WebSockets admits in all: the WebSockets, and as many HTTP sockets (pages, feed lists).
SOCKETS_PER_WEBSOCKET = 2

C = TypeVar("C", bound=Hashable)


class Refusal(enum.Enum):
    """Why a socket is over a limit as it is accepted."""

    CLIENT = "its client holds as many sockets as it may"
    SERVER = "the server holds as many sockets as it may"


def _add(counts: dict[str, int], client: str, change: int) -> None:
    left = counts.get(client, 0) + change
    if left > 0:
        counts[client] = left
    else:
        counts.pop(client, None)


class Connections(Generic[C]):
    """Open WebSockets, in the order they opened, each with the client (address) it came from, and the count of
    HTTP sockets not yet upgraded, per client and in all."""

    def __init__(self) -> None:
        # A dict rather than a set: insertion order keeps rounds over the connections stable and predictable.
        self._open: dict[C, str] = {}
        self._per_client: dict[str, int] = {}
        self._http_per_client: dict[str, int] = {}
        self._http = 0
        self.closing = False  # the server is shutting down: no connection may open any more

    def add(self, connection: C, client: str = "") -> None:
        if connection in self._open:
            return
        self._open[connection] = client
        _add(self._per_client, client, 1)

    def discard(self, connection: C) -> None:
        """Forget ``connection``; does nothing if it is not here."""
        client = self._open.pop(connection, None)
        if client is not None:
            _add(self._per_client, client, -1)

    def from_client(self, client: str) -> int:
        """How many of the open WebSockets came from ``client``."""
        return self._per_client.get(client, 0)

    def socket_opened(self, client: str) -> None:
        """An HTTP socket from ``client`` was accepted."""
        self._http += 1
        _add(self._http_per_client, client, 1)

    def socket_closed(self, client: str) -> None:
        """An HTTP socket from ``client`` closed, or became a WebSocket (counted by `add` from then on)."""
        self._http -= 1
        _add(self._http_per_client, client, -1)

    def sockets_from(self, client: str) -> int:
        """How many sockets ``client`` holds: HTTP sockets and WebSockets."""
        return self._http_per_client.get(client, 0) + self._per_client.get(client, 0)

    def refuse_socket(self, client: str, limits: Settings, socket_budget: int) -> Refusal | None:
        """Which limit a socket just accepted from ``client`` is over, if any (see the module's docstring). The
        client's own limit is looked at first: a server that makes room admits only a client within it."""
        if (
            limits.max_connections_per_ip
            and not limits.xheaders
            and self.sockets_from(client) >= SOCKETS_PER_WEBSOCKET * limits.max_connections_per_ip
        ):
            return Refusal.CLIENT
        total = self._http + len(self._open)
        if total >= socket_budget:
            return Refusal.SERVER
        if limits.max_connections and total >= SOCKETS_PER_WEBSOCKET * limits.max_connections:
            return Refusal.SERVER
        return None

    def refuse_websocket(self, client: str, limits: Settings) -> str | None:
        """Why a WebSocket handshake from ``client`` is refused (a reason phrase for its 503), or None."""
        if self.closing:
            return "Shutting Down"
        if limits.max_connections and len(self._open) >= limits.max_connections:
            return "Too Many Connections"
        if limits.max_connections_per_ip and self.from_client(client) >= limits.max_connections_per_ip:
            return "Too Many Connections From This Address"
        return None

    def __contains__(self, connection: object) -> bool:
        return connection in self._open

    def __len__(self) -> int:
        return len(self._open)

    def __iter__(self) -> Iterator[C]:
        """The connections open now (a snapshot: connections may open and close while it is used)."""
        return iter(tuple(self._open))
