"""One client's side of the protocol, apart from any transport: requests in; replies and hub calls out.

In the manner of websockets' sans-I/O protocol, a `Session` never touches a socket and imports nothing of Tornado.
It is given each client message as it arrived (`Session.receive`), answers every one with a reply frame or an
``error`` frame, and subscribes and unsubscribes its connection in the hub. Replies go to the same `Subscriber` the
hub delivers ticks to, so that a ``subscribed`` reply always goes out before the feed's first tick. Nothing a client
sends raises out of here. `handlers.socket` is the transport around it; tests drive it with a hub and a list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from feeds.codec import Format
from feeds.feed import Feed
from feeds.frames import Opcode, frame
from feeds.hub import Hub, Subscriber

from .protocol import ErrorCode, Op, ProtocolError, Request, encode_message, parse_request

__all__ = ["Session"]

log = logging.getLogger("dashboard.session")


class Session:
    """A connection's subscriptions (feed name -> format), and the handling of its requests."""

    __slots__ = ("_closed", "_hub", "_subscriber", "_subscriptions")  # one per connection: no __dict__

    def __init__(self, hub: Hub, subscriber: Subscriber) -> None:
        self._hub = hub
        self._subscriber = subscriber
        self._subscriptions: dict[str, Format] = {}
        self._closed = False

    @property
    def subscriptions(self) -> Mapping[str, Format]:
        return self._subscriptions

    @property
    def closed(self) -> bool:
        return self._closed

    def receive(self, message: str | bytes) -> None:
        """Handle one client message (a text frame's text, or a binary frame's bytes); ignored once closed."""
        if self._closed:
            return
        request: Request | None = None
        try:
            if isinstance(message, bytes):
                raise ProtocolError(ErrorCode.BINARY_NOT_SUPPORTED, "client messages must be JSON text frames")
            request = parse_request(message)
            self._handle(request)
        except ProtocolError as error:
            self._reply(error.to_message())
        except Exception:
            log.exception("unexpected error handling a client message")
            raw = request.raw if request is not None else None
            self._reply(ProtocolError(ErrorCode.INTERNAL_ERROR, "internal error", raw).to_message())

    def close(self) -> None:
        """The connection is closing: unsubscribe it from every feed; later messages are ignored."""
        self._closed = True
        for feed in self._subscriptions:
            self._hub.unsubscribe(feed, self._subscriber)
        self._subscriptions.clear()

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
        if request.feed in self._subscriptions:
            current = self._subscriptions[request.feed].value
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
        status = self._hub.status(request.feed).to_json()
        # The reply is written before the subscription starts: no tick can go out ahead of it.
        self._reply(
            encode_message(
                "subscribed", request.raw, feed=request.feed, format=request.format.value, fields=fields, **status
            )
        )
        self._subscriptions[request.feed] = request.format
        self._hub.subscribe(request.feed, self._subscriber, request.format)

    def _unsubscribe(self, request: Request) -> None:
        self._known_feed(request)
        if self._subscriptions.pop(request.feed, None) is None:
            raise ProtocolError(ErrorCode.NOT_SUBSCRIBED, f"not subscribed to {request.feed!r}", request.raw)
        self._hub.unsubscribe(request.feed, self._subscriber)
        self._reply(encode_message("unsubscribed", request.raw, feed=request.feed))

    def _known_feed(self, request: Request) -> Feed:
        try:
            return self._hub.feed(request.feed)
        except KeyError:
            known = ", ".join(sorted(feed.name for feed in self._hub.feeds))
            raise ProtocolError(
                ErrorCode.UNKNOWN_FEED, f"unknown feed {request.feed!r} (known: {known})", request.raw
            ) from None

    def _reply(self, message: bytes) -> None:
        self._subscriber.send(frame(message, Opcode.TEXT))
