"""The hub: who is subscribed to which feed in which format, and the fan-out of ticks and status changes to them.

Two steps, and a seam between them. `Hub.publish` takes what the producer makes (ticks and status changes) and
encodes each once (`feeds.encoded`): a tick becomes its WebSocket frame in every format, built before any subscriber
is looked at. `Hub.deliver` hands those bytes to the subscribers of each format, the very same bytes object to
each, so the cost of encoding does not grow with the number of clients, and keeps the newest in the feed's history
(`feeds.history`), from which a subscription may start with a replay. In-process the first step calls the
second; a broker will take over between them (the producing node encodes, every node delivers), without the
producer or the subscribers noticing.

The hub is also where the rest of the server asks what a feed is now: its status, its history, and its fields
(`Hub.fields`): the ones the feed declares, or, for a feed that declares none, the ones its first tick carries. Data
flows one way, feed -> producer -> hub -> readers: nothing writes back onto a `Feed` once it is built.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Sequence
from typing import Protocol

from .codec import Format
from .encoded import Encoded, EncodedStatus, encode_event
from .feed import Feed, Field
from .history import HISTORY_SECONDS, HISTORY_TICKS, History
from .status import FeedStatus
from .tick import Tick

__all__ = ["HELD", "Hub", "Subscriber"]

# The key of a replayed tick's frame: it must be delivered, like a reply, but its bytes are the history's, shared.
HELD = ("held",)

log = logging.getLogger("dashboard.hub")


class Subscriber(Protocol):
    """Anything that accepts WebSocket frames: a connection, or a list in a test."""

    def send(self, frame: bytes, key: Hashable | None = None) -> None:
        """Write or queue one frame; must not block and should not raise.

        Frames with the same ``key`` (a feed's ticks, a feed's statuses) supersede each other: a connection that
        cannot keep up may keep only the newest. A frame without a key must be delivered; so must a frame keyed
        ``HELD`` (a replayed tick), whose bytes the feed's history holds anyway.
        """

    def send_many(self, frames: Sequence[tuple[bytes, Hashable]]) -> None:
        """Write or queue several frames, in order, at once (one ``send`` where possible)."""

    def fail(self) -> None:
        """A send raised: end the connection with an error. The hub has already dropped it from every feed, and a
        connection that stayed open would wait for ticks that never come."""


class Hub:
    """Subscriptions by feed and format, and the fan-out of published ticks."""

    def __init__(
        self, feeds: Iterable[Feed], history_ticks: int = HISTORY_TICKS, history_seconds: float = HISTORY_SECONDS
    ) -> None:
        self._feeds = {feed.name: feed for feed in feeds}
        self._histories = {name: History(history_ticks, history_seconds) for name in self._feeds}
        self._statuses = {name: FeedStatus(name) for name in self._feeds}
        self._fields = {name: tuple(feed.fields) for name, feed in self._feeds.items()}
        # Dicts rather than sets: insertion order makes delivery order stable and predictable in tests.
        self._subscribers: dict[str, dict[Format, dict[Subscriber, None]]] = {
            name: {fmt: {} for fmt in Format} for name in self._feeds
        }

    @property
    def feeds(self) -> list[Feed]:
        """Every feed, in the order they were given."""
        return list(self._feeds.values())

    def feed(self, name: str) -> Feed:
        """The feed called ``name``; raises `KeyError` when there is none."""
        return self._feeds[name]

    def fields(self, name: str) -> tuple[Field, ...]:
        """The fields of the feed called ``name``, in the order of its values: the ones it declares, with their units,
        or, when it declares none, the names its first tick carried (without units); empty before that tick."""
        return self._fields[name]

    def status(self, name: str) -> FeedStatus:
        """The latest status published for the feed called ``name``."""
        return self._statuses[name]

    def history(self, feed: str) -> History:
        """The held ticks of the feed called ``feed`` (see `feeds.history`)."""
        return self._histories[feed]

    def subscribe(self, feed: str, subscriber: Subscriber, fmt: Format) -> None:
        """Deliver ``feed``'s ticks to ``subscriber`` from the next tick on."""
        self._subscribers[feed][fmt][subscriber] = None

    def unsubscribe(self, feed: str, subscriber: Subscriber) -> None:
        """Stop delivering ``feed``'s ticks to ``subscriber``; does nothing if it was not subscribed."""
        for group in self._subscribers[feed].values():
            group.pop(subscriber, None)

    def subscribers(self, feed: str) -> list[Subscriber]:
        """Everyone subscribed to ``feed``, all formats together."""
        return [subscriber for group in self._subscribers[feed].values() for subscriber in group]

    def subscriber_count(self, feed: str) -> int:
        """How many subscriptions ``feed`` has, all formats together."""
        return sum(len(group) for group in self._subscribers[feed].values())

    def publish(self, events: Iterable[Tick | FeedStatus]) -> None:
        """Encode ticks and status changes (of any feeds, in order), then deliver them.

        The seam a broker takes over: the node that produces a tick encodes it once, and every node delivers the
        bytes to its own subscribers.
        """
        self.deliver([encode_event(event) for event in events])

    def deliver(self, messages: Sequence[Encoded]) -> None:
        """Hand encoded ticks and status changes to the subscribers of their feeds; a status is recorded first.

        Each subscriber gets all of its frames of ``messages`` together, in order, in one write where it can.
        """
        self._record(messages)
        if len(messages) == 1:
            (message,) = messages
            for fmt, group in self._subscribers[message.feed].items():
                if group:
                    self._send_all(message.feed, group, message.frame(fmt), message.key)
            return
        self._deliver_batch(messages)

    def _record(self, messages: Sequence[Encoded]) -> None:
        """A status becomes the feed's; a tick joins its history, and the first tick of a feed that declares no fields
        fixes them."""
        for message in messages:
            if isinstance(message, EncodedStatus):
                self._statuses[message.feed] = message.status
            else:
                if not self._fields[message.feed]:
                    self._fields[message.feed] = tuple(Field(name) for name in message.fields)
                self._histories[message.feed].append(message)

    def _deliver_batch(self, messages: Sequence[Encoded]) -> None:
        batches: dict[Subscriber, list[tuple[bytes, Hashable]]] = {}
        for message in messages:
            for fmt, group in self._subscribers[message.feed].items():
                data = message.frame(fmt)
                for subscriber in group:
                    batches.setdefault(subscriber, []).append((data, message.key))
        for subscriber, frames in batches.items():
            try:
                if len(frames) == 1:
                    subscriber.send(*frames[0])
                else:
                    subscriber.send_many(frames)
            except Exception:
                self._drop(subscriber, ", ".join(sorted(self._feeds_of(subscriber, messages))))

    def _send_all(self, feed: str, group: dict[Subscriber, None], data: bytes, key: Hashable) -> None:
        # A snapshot: a send may close its connection, which unsubscribes it while we iterate.
        for subscriber in tuple(group):
            try:
                subscriber.send(data, key)
            except Exception:
                self._drop(subscriber, feed)

    def _feeds_of(self, subscriber: Subscriber, messages: Sequence[Encoded]) -> set[str]:
        """The feeds of ``messages`` that ``subscriber`` is subscribed to."""
        return {
            message.feed
            for message in messages
            if any(subscriber in group for group in self._subscribers[message.feed].values())
        }

    def _drop(self, subscriber: Subscriber, feeds: str) -> None:
        """After a failed send: one broken client must never break the broadcast for the others, nor stay
        subscribed to feeds it no longer gets; it is dropped from every feed and told to end its connection."""
        log.exception("closing subscriber %r after a failed send of %s", subscriber, feeds)
        for groups in self._subscribers.values():
            for group in groups.values():
                group.pop(subscriber, None)
        try:
            subscriber.fail()
        except Exception:
            log.exception("subscriber %r failed to close", subscriber)
