"""The HTTP server, refusing a socket over the limits before any request is read: the first line of defence.

Each accepted socket is reported to the registry of connections (`handlers.transport.connections`), which holds
every count and applies the limits: a socket over a client's limit is closed at once, unread. At the server's
limit, a socket that holds no request is closed to make room instead, if there is one (`handlers.transport.idle`
says which); only when every socket holds a request is the newcomer refused. A socket that has sent nothing
``--first-byte-timeout`` after it was accepted is closed by one timer for all of them, due when the oldest one's
time runs out. The registry learns when the socket closes, or is taken over by a WebSocket, from
`DashboardHTTPServer.on_close`. A request's head is refused past ``--max-headers`` lines before Tornado parses it,
and every request passes the gate (`handlers.transport.gate`: its client's rate) before the application.
"""

from __future__ import annotations

import logging
import resource
from collections.abc import Collection
from typing import Any

from tornado.http1connection import HTTP1ServerConnection
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPConnection, HTTPMessageDelegate, HTTPServerConnectionDelegate
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream

from handlers.security.clients import client_of
from handlers.settings import Settings

from .connections import Connections, Refusal
from .gate import RequestGate
from .idle import IdleSockets
from .tornado_internals import has_unread_bytes, limit_header_lines

__all__ = ["FD_RESERVE", "DashboardHTTPServer", "raise_fd_limit"]

log = logging.getLogger("dashboard.http")

# File descriptors kept for everything but client sockets: listening sockets, logs, feeds' files and sockets, the
# event loop's own.
FD_RESERVE = 128
# The first-byte timer runs at most this many times per --first-byte-timeout, however many sockets arrive: a
# silent socket is closed within the limit and a tenth of it.
SWEEPS_PER_TIMEOUT = 10


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
    """Tornado's `HTTPServer`, reporting every socket to the registry of connections, which may refuse it, and
    closing sockets that hold no request when it must make room or when they stay silent."""

    def initialize(  # type: ignore[override]
        self,
        request_callback: HTTPServerConnectionDelegate,
        *args: Any,
        settings: Settings,
        connections: Connections[Any],
        socket_budget: int,
        health_paths: Collection[str] = (),
        **kwargs: Any,
    ) -> None:
        self.gate = RequestGate(request_callback, self._arrived, settings, health_paths)
        super().initialize(self.gate, *args, **kwargs)
        self._limits = settings
        self._registry = connections
        self._socket_budget = socket_budget
        self._idle: IdleSockets[IOStream] = IdleSockets()
        self._sweep: object | None = None  # the first-byte timer, while a socket waits for its first byte
        self.refused = 0  # sockets closed unread, for tests and metrics
        self.evicted = 0  # sockets that held no request, closed to make room

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        client = _client(address)
        refusal = self._registry.refuse_socket(client, self._limits, self._socket_budget)
        if refusal is Refusal.SERVER and self._make_room(client):
            refusal = None
        if refusal is not None:
            self.refused += 1
            stream.close()
            return
        self._registry.socket_opened(client)
        loop = IOLoop.current()
        self._idle.accepted(stream, loop.time())
        if self._sweep is None:
            self._sweep = loop.call_later(self._limits.first_byte_timeout, self._close_silent)
        super().handle_stream(stream, address)

    def start_request(self, server_conn: object, request_conn: HTTPConnection) -> HTTPMessageDelegate:
        # Called as the socket begins to wait for a request: its first, or the next one on a kept-alive socket.
        if isinstance(server_conn, HTTP1ServerConnection):
            self._idle.waiting(server_conn.stream)
        limit_header_lines(request_conn, self._limits.max_headers)
        return super().start_request(server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        # Also called when a WebSocket upgrade takes the socket over: from then on the registry counts it as one.
        context = None
        if isinstance(server_conn, HTTP1ServerConnection):
            self._idle.forget(server_conn.stream)
            context = server_conn.context
        self._registry.socket_closed(_client(getattr(context, "address", None)))
        super().on_close(server_conn)

    def stop(self) -> None:
        super().stop()
        if self._sweep is not None:
            IOLoop.current().remove_timeout(self._sweep)
            self._sweep = None

    def _arrived(self, server_conn: object) -> None:
        """A request's headers arrived: the socket holds a request now (the gate tells, for every request)."""
        if isinstance(server_conn, HTTP1ServerConnection):
            self._idle.busy(server_conn.stream)

    def _make_room(self, newcomer: str) -> bool:
        """Close the socket a full server closes first, if there is one; whether there was."""
        stream = self._idle.first_to_close()
        if stream is None:
            return False
        self._idle.forget(stream)
        self.evicted += 1
        log.warning(
            "at the socket limit: closed a socket that held no request (%d so far) to admit one from %s",
            self.evicted,
            newcomer,
        )
        stream.close()  # the registry counts it out as Tornado lets go of it (on_close)
        return True

    def _close_silent(self) -> None:
        """Close every socket that has sent nothing within --first-byte-timeout; come back when the next one's
        time is up."""
        loop = IOLoop.current()
        now = loop.time()
        timeout = self._limits.first_byte_timeout
        for stream in self._idle.unheard_since(now - timeout):
            if not has_unread_bytes(stream) and not stream.closed():
                self._idle.forget(stream)
                stream.close()
        accepted = self._idle.next_unheard()
        if accepted is None:
            self._sweep = None
        else:
            self._sweep = loop.call_at(max(accepted + timeout, now + timeout / SWEEPS_PER_TIMEOUT), self._close_silent)


def _client(address: tuple[Any, ...] | None) -> str:
    return client_of(str(address[0])) if address else ""
