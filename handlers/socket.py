"""``/ws``: the WebSocket endpoint. Reads client requests, keeps the connection's subscriptions, sends ticks.

The connection's `FrameWriter` is its hub `Subscriber`: the hub hands it frames built once for every subscriber,
and it writes them to the socket (see `handlers.writer`). Nothing a client sends raises out of here; every
message gets a reply or an ``error`` frame.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable

from tornado.httputil import HTTPHeaders
from tornado.websocket import WebSocketHandler

from feeds.codec import Format
from feeds.feed import Feed
from feeds.frames import Opcode, frame
from feeds.hub import Hub

from .connections import Connections
from .keepalive import Keepalive
from .protocol import CloseCode, ErrorCode, Op, ProtocolError, Request, encode_message, parse_request
from .settings import Settings
from .writer import FrameWriter

__all__ = ["FeedSocket"]

log = logging.getLogger("dashboard.socket")


class FeedSocket(WebSocketHandler):
    """One client connection and its subscriptions (feed name -> format)."""

    def initialize(
        self, hub: Hub, settings: Settings, connections: Connections[FeedSocket], keepalive: Keepalive[FeedSocket]
    ) -> None:
        self.hub = hub
        self.server_settings = settings  # not `settings`: that is Tornado's application settings
        self.connections = connections
        self.keepalive = keepalive
        self.ping_sent: float | None = None  # the keepalive's: when our oldest unanswered ping went out
        self.subscriptions: dict[str, Format] = {}
        self.writer: FrameWriter | None = None

    def open(self) -> None:
        # ws_connection.stream is Tornado's, not documented API: tests/test_fastpath.py fails if it changes.
        stream = self.ws_connection.stream if self.ws_connection is not None else None
        assert stream is not None, "the WebSocket handshake is done, so the connection has a stream"
        self.writer = FrameWriter(stream, self.server_settings, self._close_for)
        self.connections.add(self)
        self.keepalive.start()
        self._release_handshake()

    def _release_handshake(self) -> None:
        """Let go of what only the HTTP handshake needed, which Tornado would keep for the connection's whole life.

        An idle connection's memory is mostly Tornado's, and a fifth of it is the request's and the response's
        headers, the HTTP connection objects and the template namespace: nothing reads them after the upgrade.
        The request keeps its method, URI and remote address for log lines. Releasing them relies on Tornado's
        internals (``_headers``, and ``get()`` holding the request headers until the connection ends), so the
        version range is pinned and tests/test_fastpath.py checks what is released.
        """
        request = self.request
        request.headers.clear()  # cleared in place: WebSocketHandler.get() holds this object until the close
        request.connection = None
        request.server_connection = None
        self._headers = HTTPHeaders()  # the 101 response's headers, long written
        self.ui = None  # type: ignore[assignment]  # Tornado itself drops it when the connection closes

    def get_compression_options(self) -> None:
        # Frames are built once for every client; per-connection compression would undo that. Not negotiated.
        return None

    def on_message(self, message: str | bytes) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return  # the server closed this connection: nothing more goes out, not even a reply
        try:
            if isinstance(message, bytes):
                raise ProtocolError(ErrorCode.BINARY_NOT_SUPPORTED, "client messages must be JSON text frames")
            self._handle(parse_request(message))
        except ProtocolError as error:
            self._reply(error.to_message())
        except Exception:
            log.exception("unexpected error handling a client message")
            self._reply(ProtocolError(ErrorCode.INTERNAL_ERROR, "internal error").to_message())

    def _handle(self, request: Request) -> None:
        if request.op is Op.PING:
            self._reply(encode_message("pong", request.raw))
        elif request.op is Op.SUBSCRIBE:
            self._subscribe(request)
        elif request.op is Op.UNSUBSCRIBE:
            self._unsubscribe(request)
        else:
            raise AssertionError(f"unhandled op {request.op}")

    def _subscribe(self, request: Request) -> None:
        feed = self._known_feed(request)
        if request.feed in self.subscriptions:
            current = self.subscriptions[request.feed].value
            raise ProtocolError(
                ErrorCode.ALREADY_SUBSCRIBED, f"already subscribed to {request.feed!r} ({current})", request.raw
            )
        if not feed.fields:
            raise ProtocolError(
                ErrorCode.FEED_NOT_READY,
                f"feed {request.feed!r} has not produced its first sample yet, so its fields are unknown; retry later",
                request.raw,
            )
        fields = [field.name for field in feed.fields]
        status = self.hub.status(request.feed).to_json()
        # The reply goes out before the first tick can: both happen on this event loop, reply first.
        self._reply(
            encode_message(
                "subscribed", request.raw, feed=request.feed, format=request.format.value, fields=fields, **status
            )
        )
        self.subscriptions[request.feed] = request.format
        assert self.writer is not None
        self.hub.subscribe(request.feed, self.writer, request.format)

    def _unsubscribe(self, request: Request) -> None:
        self._known_feed(request)
        if self.subscriptions.pop(request.feed, None) is None:
            raise ProtocolError(ErrorCode.NOT_SUBSCRIBED, f"not subscribed to {request.feed!r}", request.raw)
        assert self.writer is not None
        self.hub.unsubscribe(request.feed, self.writer)
        self._reply(encode_message("unsubscribed", request.raw, feed=request.feed))

    def _known_feed(self, request: Request) -> Feed:
        try:
            return self.hub.feed(request.feed)
        except KeyError:
            known = ", ".join(sorted(feed.name for feed in self.hub.feeds))
            raise ProtocolError(
                ErrorCode.UNKNOWN_FEED, f"unknown feed {request.feed!r} (known: {known})", request.raw
            ) from None

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
        log.info("closing a connection from %s: no answer to pings", self.request.remote_ip)
        self.close(CloseCode.NO_PONG, "no answer to ping")

    def _reply(self, message: bytes) -> None:
        if self.writer is not None:
            self.writer.send(frame(message, Opcode.TEXT))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the connection; nothing of ours is sent after the Close frame."""
        self._release()
        super().close(code, reason)

    def _close_for(self, code: CloseCode, reason: str) -> None:
        log.warning("closing a connection from %s with %d: %s", self.request.remote_ip, code, reason)
        self.close(code, reason)

    def on_close(self) -> None:
        self._release()

    def _release(self) -> None:
        """Stop writing, pinging and delivering to this connection."""
        self.connections.discard(self)
        if self.writer is not None:
            self.writer.close()
            for feed in self.subscriptions:
                self.hub.unsubscribe(feed, self.writer)
        self.subscriptions.clear()
