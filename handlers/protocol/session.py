"""One client's side of the protocol, apart from any transport: requests in; replies and hub calls out.

In the manner of websockets' sans-I/O protocol, a `Session` never touches a socket and imports nothing of Tornado.
It is given each client message as it arrived (`Session.receive`), answers every one with a reply frame or an
``error`` frame, and subscribes and unsubscribes its connection in the hub. Replies go to the same `Subscriber` the
hub delivers ticks to, so that a ``subscribed`` reply always goes out before the feed's first tick. Nothing a client
sends raises out of here. `handlers.endpoints.socket` is the transport around it; tests drive it with a hub and a list.

A subscribe to a feed whose fields are not known yet (it declares none and has not ticked) waits: the session
keeps the request, and its connection waits in the hub (`feeds.hub.Hub.wait_for_fields`), which tells the session,
as the hub's `Waiter`, when the feed's first tick is next (the subscribe is answered then, as any other) or that none
came in time (``feed_not_ready``). The session needs no timer of its own.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from feeds.codec import Format
from feeds.feed import Feed
from feeds.frames import Opcode, frame
from feeds.history import Replay
from feeds.hub import Hub, Subscriber, wait_seconds
from feeds.tokenbucket import refilled
from handlers.security.auth import Authenticator, AuthError, Identity, may_read
from handlers.settings import Settings

from .codes import CloseCode, ErrorCode
from .messages import Op, ProtocolError, Request, encode_message, parse_request

__all__ = ["Connection", "Session", "Shared"]

SECONDS_PER_MINUTE = 60.0
# A bucket that was never used is full: refilled() caps infinity at the burst, and these two are shared constants.
FULL = math.inf
NEVER = 0.0

log = logging.getLogger("dashboard.session")


class Connection(Subscriber, Protocol):
    """What a session needs of its connection: the hub's subscriber for it, which it can also close."""

    def close_connection(self, code: CloseCode, reason: str) -> None: ...


@dataclass(frozen=True)
class Shared:
    """What every session of a server shares: the hub, the limits, the token verifier (None: no tokens), the
    clock of the rate limits and the wall clock a ``pong`` tells the time by (the one ticks are stamped with). One
    object for all, so that each session holds a single reference to it."""

    hub: Hub
    limits: Settings = dataclasses.field(default_factory=Settings)
    authenticator: Authenticator | None = None
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time


class Session:
    """A connection's subscriptions (feed name -> format), its waiting subscribes, its message budget, and the handling
    of its requests. It is the hub's `feeds.hub.Waiter` for its waiting subscribes.

    Each message takes a token from a bucket of ``max_burst`` that refills at ``max_rate`` a second (settings); a
    message that finds it empty is answered ``rate_limited`` and not read, and the ``max_burst``-th such answer in a
    row closes the connection with 1008. ``identity`` is who the connection's token says it is (None when the server
    asks for no token); an ``auth`` message may replace it.
    """

    # One per connection, 10,000 of them on a busy server: no __dict__, one reference to what sessions share, and a
    # bucket of two numbers (see feeds.tokenbucket) that starts full without a float of its own.
    __slots__ = (
        "_closed",
        "_refused",
        "_renewed",
        "_replay_bytes",
        "_replay_bytes_at",
        "_shared",
        "_subscriptions",
        "_tokens",
        "_tokens_at",
        "_waiting",
        "connection",
        "identity",
    )

    def __init__(
        self,
        shared: Shared,
        connection: Connection,
        identity: Identity | None = None,
        renewed: Callable[[Identity], None] | None = None,
    ) -> None:
        """``renewed(identity)`` is told of every fresh token an ``auth`` message brings (the transport moves the
        connection's expiry by it)."""
        self._shared = shared
        self.connection = connection
        self.identity = identity
        self._renewed = renewed
        self._subscriptions: dict[str, Format] = {}
        # Subscribes waiting for their feed's first tick, by feed: None rather than an empty dict, as for nearly all.
        self._waiting: dict[str, Request] | None = None
        self._closed = False
        self._tokens = FULL
        self._tokens_at = NEVER
        self._replay_bytes = FULL  # the replay budget's bytes left (a bucket too: see _charge_replay)
        self._replay_bytes_at = NEVER
        self._refused = 0  # messages refused in a row for want of tokens

    @property
    def subscriptions(self) -> Mapping[str, Format]:
        return self._subscriptions

    @property
    def waiting(self) -> Mapping[str, Format]:
        """The subscribes waiting for their feed's first tick: feed name -> format."""
        return {feed: request.format for feed, request in (self._waiting or {}).items()}

    @property
    def closed(self) -> bool:
        return self._closed

    def receive(self, message: str | bytes) -> None:
        """Handle one client message (a text frame's text, or a binary frame's bytes); ignored once closed."""
        if self._closed or not self._within_rate():
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
            self._internal_error(request)

    def feed_ready(self, feed: str) -> None:
        """The hub's word that ``feed``'s first tick is next: the waiting subscribe is answered as any other, then the
        tick follows."""
        request = self._take_waiting(feed)
        if request is None:
            return
        try:
            self._accept(request)
        except Exception:
            log.exception("unexpected error answering a waiting subscribe")
            self._internal_error(request)

    def feed_not_ready(self, feed: str) -> None:
        """The hub's word that ``feed`` did not tick within the wait: the waiting subscribe is refused."""
        request = self._take_waiting(feed)
        if request is None:
            return
        seconds = wait_seconds(self._shared.hub.feed(feed))
        error = ProtocolError(
            ErrorCode.FEED_NOT_READY,
            f"feed {feed!r} produced no sample within {seconds:g} s of the subscribe, so its fields are unknown; "
            "retry later",
            request.raw,
        )
        self._reply(error.to_message())

    def close(self) -> None:
        """The connection is closing: unsubscribe it from every feed and end its waits; later messages are
        ignored."""
        self._closed = True
        for feed in [*self._subscriptions, *(self._waiting or ())]:
            self._shared.hub.unsubscribe(feed, self.connection)
        self._subscriptions.clear()
        self._waiting = None

    def _within_rate(self) -> bool:
        """Take a token for a message; without one, refuse it (and close the connection if it keeps on)."""
        limits = self._shared.limits
        now = self._shared.clock()
        self._tokens = refilled(self._tokens, self._tokens_at, now, limits.max_rate, limits.max_burst)
        self._tokens_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            self._refused = 0
            return True
        self._refused += 1
        if self._refused >= limits.max_burst:
            self.close()
            self.connection.close_connection(CloseCode.POLICY_VIOLATION, "rate limit exceeded")
        else:
            rate = limits.max_rate
            self._reply(
                ProtocolError(ErrorCode.RATE_LIMITED, f"more than {rate:g} messages a second: slow down").to_message()
            )
        return False

    def _handle(self, request: Request) -> None:
        if request.op is Op.PING:
            # The server's time: a client sets its clock's offset by it, to tell how old a tick's `ts` is.
            self._reply(encode_message("pong", request.raw, ts=self._shared.wall()))
        elif request.op is Op.SUBSCRIBE:
            self._subscribe(request)
        elif request.op is Op.UNSUBSCRIBE:
            self._unsubscribe(request)
        elif request.op is Op.AUTH:
            self._reauthenticate(request)
        else:
            raise AssertionError(f"unhandled op {request.op}")

    def _subscribe(self, request: Request) -> None:
        self._known_feed(request)
        waiting = self._waiting or {}
        if request.feed in self._subscriptions:
            current = self._subscriptions[request.feed].value
            raise ProtocolError(
                ErrorCode.ALREADY_SUBSCRIBED, f"already subscribed to {request.feed!r} ({current})", request.raw
            )
        if request.feed in waiting:
            current = waiting[request.feed].format.value
            raise ProtocolError(
                ErrorCode.ALREADY_SUBSCRIBED,
                f"already subscribed to {request.feed!r} ({current}), waiting for its first sample",
                request.raw,
            )
        most = self._shared.limits.max_subscriptions
        if len(self._subscriptions) + len(waiting) >= most:
            raise ProtocolError(
                ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                f"at most {most} subscriptions per connection: unsubscribe from one first",
                request.raw,
            )
        if not self._shared.hub.fields(request.feed):
            # Nobody can say yet what its values are: it waits until the hub says its first tick is next.
            if self._waiting is None:
                self._waiting = {}
            self._waiting[request.feed] = request
            self._shared.hub.wait_for_fields(request.feed, self.connection, self)
            return
        self._accept(request)

    def _accept(self, request: Request) -> None:
        """Answer a subscribe to a feed whose fields are known, replay what it asked for, and subscribe."""
        hub = self._shared.hub
        fields = [field.name for field in hub.fields(request.feed)]
        status = hub.status(request.feed).to_json()
        history = hub.history(request.feed)
        if request.since is not None:
            replay = history.since(request.since, request.run)
        else:
            replay = history.last(request.history or 0)
        self._charge_replay(replay, request.format)
        # The reply, then the replay, then live ticks: all written in this one call, so that no tick can go out
        # ahead of the reply, and none is missed or repeated at the seam between replay and live.
        self._reply(
            encode_message(
                "subscribed",
                request.raw,
                feed=request.feed,
                format=request.format.value,
                fields=fields,
                run=replay.run,
                replayed=len(replay.ticks),
                gap=replay.gap,
                **status,
            )
        )
        if replay:
            self.connection.send_replay(replay, request.format)
        self._subscriptions[request.feed] = request.format
        hub.subscribe(request.feed, self.connection, request.format)

    def _charge_replay(self, replay: Replay, fmt: Format) -> None:
        """Take the replay's bytes from the connection's replay budget, a bucket of ``replay_budget`` bytes refilled
        at as many a minute; a replay past what is left is cut to its newest ticks that fit, and says ``gap``. What
        a subscribe costs the server to send is so bounded by what its connection has used, not by its 50 bytes."""
        budget = self._shared.limits.replay_budget
        now = self._shared.clock()
        left = refilled(self._replay_bytes, self._replay_bytes_at, now, budget / SECONDS_PER_MINUTE, budget)
        self._replay_bytes_at = now
        if replay.size(fmt) > left:
            replay.newest_within(fmt, int(left))
        self._replay_bytes = left - replay.size(fmt)

    def _unsubscribe(self, request: Request) -> None:
        self._known_feed(request)
        waiting = self._take_waiting(request.feed)
        if waiting is None and self._subscriptions.pop(request.feed, None) is None:
            raise ProtocolError(ErrorCode.NOT_SUBSCRIBED, f"not subscribed to {request.feed!r}", request.raw)
        self._shared.hub.unsubscribe(request.feed, self.connection)
        if waiting is not None:
            # The waiting subscribe gets its one answer too, ahead of the unsubscribe's: it ended before it began.
            self._reply(encode_message("unsubscribed", waiting.raw, feed=request.feed))
        self._reply(encode_message("unsubscribed", request.raw, feed=request.feed))

    def _reauthenticate(self, request: Request) -> None:
        """A fresh token for the same ``sub``: the connection lives on to its new expiry, with its new roles."""
        authenticator = self._shared.authenticator
        if authenticator is None or self.identity is None:
            raise ProtocolError(ErrorCode.INVALID_MESSAGE, "this server does not authenticate its clients", request.raw)
        try:
            identity = authenticator.verify(request.token)
        except AuthError as error:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, f"token refused: {error}", request.raw) from None
        if identity.sub != self.identity.sub:
            raise ProtocolError(
                ErrorCode.UNAUTHORIZED, "token refused: it is for another subject than this connection's", request.raw
            )
        self.identity = identity
        if self._renewed is not None:
            self._renewed(identity)  # the connection follows it to its new expiry
        self._reply(encode_message("authed", request.raw, exp=identity.exp))
        # Roles may have shrunk: what they no longer cover stops, and the client is told; a waiting subscribe is
        # answered so, with its id.
        hub = self._shared.hub
        for feed in [name for name in self._subscriptions if not may_read(identity, hub.feed(name).roles)]:
            del self._subscriptions[feed]
            hub.unsubscribe(feed, self.connection)
            self._reply(encode_message("unsubscribed", {}, feed=feed, reason=ErrorCode.FORBIDDEN.value))
        for feed, waiting in list((self._waiting or {}).items()):
            if not may_read(identity, hub.feed(feed).roles):
                self._take_waiting(feed)
                hub.unsubscribe(feed, self.connection)
                self._reply(encode_message("unsubscribed", waiting.raw, feed=feed, reason=ErrorCode.FORBIDDEN.value))

    def _known_feed(self, request: Request) -> Feed:
        """The feed a request names, if this client may read it; else `unknown_feed`, the same answer for a feed it
        may not read as for one that does not exist, so that no client can learn the names of hidden feeds."""
        hub = self._shared.hub
        try:
            feed: Feed | None = hub.feed(request.feed)
        except KeyError:
            feed = None
        if feed is None or not may_read(self.identity, feed.roles):
            # Only the feeds this client may read: the others stay out of sight, as in /api/feeds.
            known = ", ".join(sorted(other.name for other in hub.feeds if may_read(self.identity, other.roles)))
            raise ProtocolError(ErrorCode.UNKNOWN_FEED, f"unknown feed {request.feed!r} (known: {known})", request.raw)
        return feed

    def _take_waiting(self, feed: str) -> Request | None:
        """Forget the subscribe waiting for ``feed``, and return it; None when there is none."""
        if self._waiting is None:
            return None
        request = self._waiting.pop(feed, None)
        if not self._waiting:
            self._waiting = None
        return request

    def _internal_error(self, request: Request | None) -> None:
        """Answer ``request`` (None: a message that could not be read) with ``internal_error``, after a bug (which the
        caller logs)."""
        internal = ProtocolError(ErrorCode.INTERNAL_ERROR, "internal error", request.raw if request else None)
        try:
            reply = internal.to_message()
        except Exception:  # the request's id itself cannot be written back: answer without it
            reply = ProtocolError(ErrorCode.INTERNAL_ERROR, "internal error").to_message()
        self._reply(reply)

    def _reply(self, message: bytes) -> None:
        self.connection.send(frame(message, Opcode.TEXT))
