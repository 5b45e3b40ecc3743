"""The HTTP server, refusing a socket over the limits before any request is read: the first line of defence.

Each accepted socket is reported to the registry of connections (`handlers.transport.connections`), which holds
every count and applies the limits: a socket it refuses is closed at once, unread. The registry learns when the
socket closes, or is taken over by a WebSocket, from `DashboardHTTPServer.on_close`.
"""

from __future__ import annotations

import resource
from typing import Any

from tornado.http1connection import HTTP1ServerConnection
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream

from handlers.security.clients import client_of
from handlers.settings import Settings

from .connections import Connections

__all__ = ["FD_RESERVE", "DashboardHTTPServer", "raise_fd_limit"]

# File descriptors kept for everything but client sockets: listening sockets, logs, feeds' files and sockets, the
# event loop's own.
FD_RESERVE = 128


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
    """Tornado's `HTTPServer`, reporting every socket to the registry of connections, which may refuse it."""

    def initialize(  # type: ignore[override]
        self, *args: Any, settings: Settings, connections: Connections[Any], socket_budget: int, **kwargs: Any
    ) -> None:
        super().initialize(*args, **kwargs)
        self._limits = settings
        self._registry = connections
        self._socket_budget = socket_budget
        self.refused = 0  # sockets closed unread, for tests and metrics

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        client = _client(address)
        if self._registry.refuse_socket(client, self._limits, self._socket_budget):
            self.refused += 1
            stream.close()
            return
        self._registry.socket_opened(client)
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        # Also called when a WebSocket upgrade takes the socket over: from then on the registry counts it as one.
        context = server_conn.context if isinstance(server_conn, HTTP1ServerConnection) else None
        self._registry.socket_closed(_client(getattr(context, "address", None)))
        super().on_close(server_conn)


def _client(address: tuple[Any, ...] | None) -> str:
    return client_of(str(address[0])) if address else ""
