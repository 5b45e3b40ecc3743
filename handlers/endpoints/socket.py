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

from tornado.ioloop import IOLoop
from tornado.web import HTTPError
from tornado.websocket import WebSocketHandler

from handlers.protocol.codes import CloseCode
from handlers.protocol.session import Session, Shared
from handlers.security.accesslog import redact
from handlers.security.auth import Identity
from handlers.security.clients import client_of
from handlers.security.guard import Guard
from handlers.settings import Settings
from handlers.transport.connections import Connections
from handlers.transport.framing import StrictProtocol
from handlers.transport.keepalive import Keepalive
from handlers.transport.tornado_internals import is_closing, protocol_params, release_handshake, stream_of
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
        shared: Shared,
        settings: Settings,
        connections: Connections[FeedSocket],
        keepalive: Keepalive[FeedSocket],
    ) -> None:
        self.initialize_guard(guard)
        self.shared = shared  # what every connection's session shares
        self.server_settings = settings  # not `settings`: that is Tornado's application settings
        self.connections = connections
        self.keepalive = keepalive
        self.ping_sent: float | None = None  # the keepalive's: when our oldest unanswered ping went out
        self.writer: FrameWriter | None = None
        self.session: Session | None = None
        self.identity: Identity | None = None  # who the token says (None: the server does not authenticate)
        self._expiry: object | None = None  # the timer that closes the connection when its token expires
        self.ending = False  # asked to end (`end`): nothing more is read or written, the close is on its way

    @property
    def client(self) -> str:
        """The client the limits count this connection against (`handlers.security.clients`)."""
        return client_of(self.request.remote_ip or "")

    def prepare(self) -> None:
        super().prepare()
        self.identity = self.identify()
        # Refused before the upgrade, so that a client over a limit holds no WebSocket at all.
        refusal = self.connections.refuse_websocket(self.client, self.server_settings)
        if refusal is not None:
            raise HTTPError(HTTPStatus.SERVICE_UNAVAILABLE, reason=refusal)

    def check_origin(self, origin: str) -> bool:
        # Tornado lets in the server's own origin (and clients that send none) before asking.
        return self.guard.origin_allowed(origin, self.request.host)

    def open(self) -> None:
        stream = stream_of(self)
        assert stream is not None, "the WebSocket handshake is done, so the connection has a stream"
        self.writer = FrameWriter(stream, self.server_settings, self.end)
        self.session = Session(self.shared, self.writer, self.identity, renewed=self._expires_at)
        self._expires_at(self.identity)
        self.connections.add(self, self.client)
        self.keepalive.start()
        # An idle connection's memory is mostly Tornado's, and a fifth of it is what only the handshake needed. The
        # URI stays for log lines, its credentials redacted (a token is the longest part of it).
        self.request.uri = redact(self.request.uri or "")
        release_handshake(self)

    def get_websocket_protocol(self) -> StrictProtocol | None:
        # Tornado's own reader drops the socket on a protocol error instead of closing with 1002 or 1007.
        if self.request.headers.get("Sec-WebSocket-Version") != "13":
            return None  # Tornado answers 426 with the version it speaks
        return StrictProtocol(self, False, protocol_params(self.max_message_size))

    def get_compression_options(self) -> None:
        # Frames are built once for every client; per-connection compression would undo that. Not negotiated.
        return None

    def on_message(self, message: str | bytes) -> None:
        if self.session is None or self.ending or is_closing(self):
            return  # the server closed this connection: nothing more goes out, not even a reply
        self.session.receive(message)

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

    def end(self, code: CloseCode, reason: str) -> None:
        """The one way a connection's parts ask for it to end: its writer (a stalled client), and through the writer
        the session (a client past its rate) and the hub (a failed send). Nothing more is written from now on, and
        the close runs on the loop's next turn, so that it never re-enters the fan-out or the message that asked."""
        if self.ending:
            return
        self.ending = True
        if self.writer is not None:
            self.writer.close()
        if self.may_log():
            log.warning("closing a connection from %s with %d: %s", self.request.remote_ip, code, reason)
        IOLoop.current().add_callback(self.close, code, reason)

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
