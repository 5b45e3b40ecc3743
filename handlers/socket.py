"""``/ws``: the WebSocket endpoint. Reads client requests, keeps the connection's subscriptions, sends ticks.

The connection is a hub `Subscriber`: the hub hands it already-encoded messages and it only writes them. Nothing a
client sends raises out of here; every message gets a reply or an ``error`` frame.
"""

from __future__ import annotations

import contextlib
import logging
from asyncio import Future

from tornado.websocket import WebSocketClosedError, WebSocketHandler

from feeds.codec import Format
from feeds.feed import Feed
from feeds.hub import Hub

from .protocol import ErrorCode, Op, ProtocolError, Request, encode_message, parse_request

__all__ = ["FeedSocket"]

log = logging.getLogger("dashboard.socket")


def _consume_result(future: Future[None]) -> None:
    # A write to a connection that closes meanwhile fails; that is expected, not worth an "unretrieved" log.
    if not future.cancelled():
        future.exception()


class FeedSocket(WebSocketHandler):
    """One client connection and its subscriptions (feed name -> format)."""

    def initialize(self, hub: Hub) -> None:
        self.hub = hub
        self.subscriptions: dict[str, Format] = {}

    def on_message(self, message: str | bytes) -> None:
        try:
            if isinstance(message, bytes):
                raise ProtocolError(ErrorCode.BINARY_NOT_SUPPORTED, "client messages must be JSON text frames")
            self._handle(parse_request(message))
        except ProtocolError as error:
            self.send(error.to_message(), binary=False)
        except Exception:
            log.exception("unexpected error handling a client message")
            self.send(ProtocolError(ErrorCode.INTERNAL_ERROR, "internal error").to_message(), binary=False)

    def _handle(self, request: Request) -> None:
        if request.op is Op.PING:
            self.send(encode_message("pong", request.raw), binary=False)
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
        self.send(
            encode_message(
                "subscribed", request.raw, feed=request.feed, format=request.format.value, fields=fields, **status
            ),
            binary=False,
        )
        self.subscriptions[request.feed] = request.format
        self.hub.subscribe(request.feed, self, request.format)

    def _unsubscribe(self, request: Request) -> None:
        self._known_feed(request)
        if self.subscriptions.pop(request.feed, None) is None:
            raise ProtocolError(ErrorCode.NOT_SUBSCRIBED, f"not subscribed to {request.feed!r}", request.raw)
        self.hub.unsubscribe(request.feed, self)
        self.send(encode_message("unsubscribed", request.raw, feed=request.feed), binary=False)

    def _known_feed(self, request: Request) -> Feed:
        try:
            return self.hub.feed(request.feed)
        except KeyError:
            known = ", ".join(sorted(feed.name for feed in self.hub.feeds))
            raise ProtocolError(
                ErrorCode.UNKNOWN_FEED, f"unknown feed {request.feed!r} (known: {known})", request.raw
            ) from None

    def send(self, message: bytes, binary: bool) -> None:
        """Queue a message for this client (the hub's `Subscriber` interface); a closed connection drops it."""
        with contextlib.suppress(WebSocketClosedError):
            self.write_message(message, binary=binary).add_done_callback(_consume_result)

    def on_close(self) -> None:
        for feed in self.subscriptions:
            self.hub.unsubscribe(feed, self)
        self.subscriptions.clear()
