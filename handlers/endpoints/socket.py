"""``/ws``: the WebSocket endpoint, the transport around a connection's `Session`.

`FeedSocket` adapts Tornado's `WebSocketHandler` to the pure parts: the handshake (and the memory it may let go of
afterwards), the connection's `FrameWriter`, which is both the hub's `Subscriber` for it and where the session's
replies go (see `handlers.transport.writer`), its place in the registry of connections, and the keepalive's hooks.
What a client's messages mean is the session's business (`handlers.protocol.session`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from http import HTTPStatus

from tornado.httputil import HTTPHeaders
from tornado.ioloop import IOLoop
from tornado.web import HTTPError
from tornado.websocket import WebSocketHandler, _WebSocketParams

from handlers.protocol.codes import CloseCode
from handlers.protocol.session import Server, Session
from handlers.security.accesslog import redact
from handlers.security.auth import Identity
from handlers.security.guard import Guard
from handlers.settings import Settings
from handlers.transport.connections import Connections
from handlers.transport.framing import StrictProtocol
from handlers.transport.keepalive import Keepalive
from handlers.transport.writer import FrameWriter

from .base import Guarded

__all__ = ["FeedSocket"]

log = logging.getLogger("dashboard.socket")


class FeedSocket(Guarded, WebSocketHandler):
    """One client connection: its writer and its session, from the end of the handshake until it closes."""

    def initialize(
        self,
        *,
        guard: Guard,
        sessions: Server,
        settings: Settings,
        connections: Connections[FeedSocket],
        keepalive: Keepalive[FeedSocket],
    ) -> None:
        self.initialize_guard(guard)
        self.sessions = sessions  # what every connection's session shares
        self.server_settings = settings  # not `settings`: that is Tornado's application settings
        self.connections = connections
        self.keepalive = keepalive
        self.ping_sent: float | None = None  # the keepalive's: when our oldest unanswered ping went out
        self.writer: FrameWriter | None = None
        self.session: Session | None = None
        self.identity: Identity | None = None  # who the token says (None: the server does not authenticate)
        self._expiry: object | None = None  # the timer that closes the connection when its token expires

    def prepare(self) -> None:
        super().prepare()
        self.identity = self.identify()
        # Refused before the upgrade, so that a client over a limit holds no WebSocket at all.
        limits = self.server_settings
        client = self.request.remote_ip or ""
        if self.connections.closing:
            raise HTTPError(HTTPStatus.SERVICE_UNAVAILABLE, reason="Shutting Down")
        if limits.max_connections and len(self.connections) >= limits.max_connections:
            raise HTTPError(HTTPStatus.SERVICE_UNAVAILABLE, reason="Too Many Connections")
        if limits.max_connections_per_ip and self.connections.from_client(client) >= limits.max_connections_per_ip:
            raise HTTPError(HTTPStatus.SERVICE_UNAVAILABLE, reason="Too Many Connections From This Address")

    def check_origin(self, origin: str) -> bool:
        # Tornado lets in the server's own origin (and clients that send none) before asking.
        return self.guard.origin_allowed(origin, self.request.host)

    def open(self) -> None:
        # ws_connection.stream is Tornado's, not documented API: tests/test_fastpath.py fails if it changes.
        stream = self.ws_connection.stream if self.ws_connection is not None else None
        assert stream is not None, "the WebSocket handshake is done, so the connection has a stream"
        self.writer = FrameWriter(stream, self.server_settings, self._close_for)
        self.session = Session(self.sessions, self.writer, self.identity)
        self._expires_at(self.identity)
        self.connections.add(self, self.request.remote_ip or "")
        self.keepalive.start()
        self._release_handshake()

    def _release_handshake(self) -> None:
        """Let go of what only the HTTP handshake needed, which Tornado would keep for the connection's whole life.

        An idle connection's memory is mostly Tornado's, and a fifth of it is the request's and the response's
        headers, the HTTP connection objects and the template namespace: nothing reads them after the upgrade. The
        request keeps its method, URI (its credentials redacted: a token is the longest part of it) and remote
        address for log lines, and lets go of its parsed query. Releasing them relies on Tornado's
        internals (``_headers``, and ``get()`` holding the request headers until the connection ends), so the
        version range is pinned and tests/test_fastpath.py checks what is released.
        """
        request = self.request
        request.headers.clear()  # cleared in place: WebSocketHandler.get() holds this object until the close
        request.uri = redact(request.uri or "")
        request.query = ""
        request.arguments.clear()
        request.query_arguments.clear()
        request.connection = None
        request.server_connection = None
        self._headers = HTTPHeaders()  # the 101 response's headers, long written
        self.ui = None  # type: ignore[assignment]  # Tornado itself drops it when the connection closes

    def get_websocket_protocol(self) -> StrictProtocol | None:
        # Tornado's own reader drops the socket on a protocol error instead of closing with 1002 or 1007.
        if self.request.headers.get("Sec-WebSocket-Version") != "13":
            return None  # Tornado answers 426 with the version it speaks
        params = _WebSocketParams(max_message_size=self.max_message_size, compression_options=None)
        return StrictProtocol(self, False, params)

    def get_compression_options(self) -> None:
        # Frames are built once for every client; per-connection compression would undo that. Not negotiated.
        return None

    def on_message(self, message: str | bytes) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing() or self.session is None:
            return  # the server closed this connection: nothing more goes out, not even a reply
        self.session.receive(message)
        if self.session.identity is not self.identity:  # a fresh token: a new expiry
            self.identity = self.session.identity
            self._expires_at(self.identity)

    def on_ping(self, data: bytes) -> None:
        # Tornado has just written its pong to the stream: the writer must not send around it.
        if self.writer is not None:
            self.writer.stream_written()

    def on_pong(self, data: bytes) -> None:
        self.keepalive.pong(self)

    def send_frame(self, data: bytes, key: Hashable) -> None:
        """Write a frame of the connection's own (a keepalive ping)."""
        if self.writer is not None:
            self.writer.send(data, key)

    def close_dead(self) -> None:
        if self.may_log():
            log.info("closing a connection from %s: no answer to pings", self.request.remote_ip)
        self.close(CloseCode.INTERNAL_ERROR, "no answer to ping")

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the connection; nothing of ours is sent after the Close frame."""
        self._release()
        super().close(code, reason)

    def _expires_at(self, identity: Identity | None) -> None:
        """Close the connection with 4001 when ``identity``'s token expires (a newer token moves the time)."""
        loop = IOLoop.current()
        if self._expiry is not None:
            loop.remove_timeout(self._expiry)
            self._expiry = None
        if identity is not None:
            self._expiry = loop.call_later(max(0.0, identity.exp - time.time()), self._expired)

    def _expired(self) -> None:
        self._expiry = None
        self.close(CloseCode.TOKEN_EXPIRED, "token expired")

    def _close_for(self, code: CloseCode, reason: str) -> None:
        if self.may_log():
            log.warning("closing a connection from %s with %d: %s", self.request.remote_ip, code, reason)
        self.close(code, reason)

    def on_close(self) -> None:
        self._release()

    def _release(self) -> None:
        """Stop writing, pinging and delivering to this connection."""
        self.connections.discard(self)
        if self._expiry is not None:
            IOLoop.current().remove_timeout(self._expiry)
            self._expiry = None
        if self.writer is not None:
            self.writer.close()
        if self.session is not None:
            self.session.close()
