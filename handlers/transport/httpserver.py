"""The HTTP server, with a limit on open sockets before any request is read: the first line of defence.

`--max-connections` and `--max-connections-per-ip` bound WebSockets at their handshake (503), but a client can hold
sockets without ever finishing a request; each costs a file descriptor until ``--http-idle-timeout`` cuts it. Here
every accepted socket counts, the HTTP ones (not yet upgraded) and the WebSockets (in the registry) together: one
that would take a client past ``--max-connections-per-ip``, or the server past ``--max-connections``, or past what
its file-descriptor limit leaves room for, is closed at once, unread. Twice the WebSocket limits, so that a client
at its WebSocket limit can still load the page and its feed list; the handshake keeps the WebSocket count exact.
Behind a reverse proxy (``--xheaders``) every socket comes from the proxy, so only the totals apply here.
"""

from __future__ import annotations

import resource
from typing import Any

from tornado.http1connection import HTTP1ServerConnection
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream

from handlers.settings import Settings

from .connections import Connections

__all__ = ["FD_RESERVE", "DashboardHTTPServer", "raise_fd_limit"]

# File descriptors kept for everything but client sockets: listening sockets, logs, feeds' files and sockets, the
# event loop's own.
FD_RESERVE = 128
# Sockets a limit on WebSockets admits in all: the WebSockets, and as many HTTP sockets (pages, feed lists).
SOCKETS_PER_WEBSOCKET = 2


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard one; return what sockets may use of it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # keep the soft limit
    return max(1, soft - FD_RESERVE)


class DashboardHTTPServer(HTTPServer):
    """Tornado's `HTTPServer`, counting open sockets per client address and in all."""

    def initialize(  # type: ignore[override]
        self, *args: Any, settings: Settings, connections: Connections[Any], socket_budget: int, **kwargs: Any
    ) -> None:
        super().initialize(*args, **kwargs)
        self._limits = settings
        self._websockets = connections
        self._socket_budget = socket_budget
        self._per_client: dict[str, int] = {}
        self.refused = 0  # sockets closed unread, for tests and metrics

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        client = str(address[0]) if address else ""
        if self._over_limit(client):
            self.refused += 1
            stream.close()
            return
        self._per_client[client] = self._per_client.get(client, 0) + 1
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        # Also called when a WebSocket upgrade takes the socket over: from then on the registry counts it.
        context = server_conn.context if isinstance(server_conn, HTTP1ServerConnection) else None
        address = getattr(context, "address", None)
        client = str(address[0]) if address else ""
        left = self._per_client.get(client, 0) - 1
        if left > 0:
            self._per_client[client] = left
        else:
            self._per_client.pop(client, None)
        super().on_close(server_conn)

    def _over_limit(self, client: str) -> bool:
        limits = self._limits
        total = len(self._connections) + len(self._websockets)
        if total >= self._socket_budget:
            return True
        if limits.max_connections and total >= SOCKETS_PER_WEBSOCKET * limits.max_connections:
            return True
        if limits.xheaders or not limits.max_connections_per_ip:
            return False
        mine = self._per_client.get(client, 0) + self._websockets.from_client(client)
        return mine >= SOCKETS_PER_WEBSOCKET * limits.max_connections_per_ip
