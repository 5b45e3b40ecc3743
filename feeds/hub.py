"""The hub: who is subscribed to which feed in which format, and the fan-out of each tick to them.

Ticks and status changes enter through `Hub.publish` (or `Hub.publish_many`) and `Hub.publish_status`, the one seam
between producing and delivering: in-process they are delivered at once; a broker can later sit behind it without
the producer or the subscribers noticing. Each tick is encoded once per format that has subscribers and framed once
as a WebSocket frame, and the same bytes go to every subscriber of that format, so the cost of encoding does not grow
with the number of clients.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Sequence
from typing import Protocol

from .codec import Format, encode, encode_status
from .feed import Feed
from .frames import Opcode, frame
from .status import FeedStatus
from .tick import Tick

__all__ = ["Hub", "Subscriber"]

log = logging.getLogger("dashboard.hub")


OPCODES = {Format.JSON: Opcode.TEXT, Format.BINARY: Opcode.BINARY}


class Subscriber(Protocol):
    """Anything that accepts WebSocket frames: a connection, or a list in a test."""

    def send(self, frame: bytes, key: Hashable | None = None) -> None:
        """Write or queue one frame; must not block and should not raise.

        Frames with the same ``key`` (a feed's ticks, a feed's statuses) supersede each other: a connection that
        cannot keep up may keep only the newest. A frame without a key must be delivered.
        """

    def send_many(self, frames: Sequence[tuple[bytes, Hashable]]) -> None:
        """Write or queue several frames, in order, at once (one ``send`` where possible)."""

    def fail(self) -> None:
        """A send raised: end the connection with an error. The hub has already dropped it from every feed, and a
        connection that stayed open would wait for ticks that never come."""


class Hub:
    """Subscriptions by feed and format, and the fan-out of published ticks."""

    def __init__(self, feeds: Iterable[Feed]) -> None:
        self._feeds = {feed.name: feed for feed in feeds}
        self._statuses = {name: FeedStatus(name) for name in self._feeds}
        self._tick_keys = {name: ("tick", name) for name in self._feeds}
        self._status_keys = {name: ("status", name) for name in self._feeds}
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

    def status(self, name: str) -> FeedStatus:
        """The latest status published for the feed called ``name``."""
        return self._statuses[name]

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

    def publish(self, tick: Tick) -> None:
        """Hand a tick to everyone subscribed to its feed."""
        for delivery in self._deliveries(tick):
            self._send_all(*delivery)

    def publish_many(self, ticks: Sequence[Tick]) -> None:
        """Hand several ticks (of different feeds) over at once: each subscriber gets all of its frames together."""
        deliveries = [delivery for tick in ticks for delivery in self._deliveries(tick)]
        if len(deliveries) == 1:
            self._send_all(*deliveries[0])
            return
        batches: dict[Subscriber, list[tuple[bytes, Hashable]]] = {}
        for _, group, data, key in deliveries:
            for subscriber in group:
                batches.setdefault(subscriber, []).append((data, key))
        for subscriber, frames in batches.items():
            try:
                if len(frames) == 1:
                    subscriber.send(*frames[0])
                else:
                    subscriber.send_many(frames)
            except Exception:
                self._drop(subscriber, ", ".join(tick.feed for tick in ticks))

    def publish_status(self, status: FeedStatus) -> None:
        """Record a feed's new status and tell its subscribers, in every format, as a JSON text message."""
        self._statuses[status.feed] = status
        data = frame(encode_status(status), Opcode.TEXT)
        key = self._status_keys[status.feed]
        for group in self._subscribers[status.feed].values():
            self._send_all(status.feed, group, data, key)

    def _deliveries(self, tick: Tick) -> list[tuple[str, dict[Subscriber, None], bytes, Hashable]]:
        """The tick's frame for each format that has subscribers, with them: encoded and framed once each."""
        key = self._tick_keys[tick.feed]
        return [
            (tick.feed, group, frame(encode(tick, fmt), OPCODES[fmt]), key)
            for fmt, group in self._subscribers[tick.feed].items()
            if group
        ]

    def _send_all(self, feed: str, group: dict[Subscriber, None], data: bytes, key: Hashable) -> None:
        # A snapshot: a send may close its connection, which unsubscribes it while we iterate.
        for subscriber in tuple(group):
            try:
                subscriber.send(data, key)
            except Exception:
                self._drop(subscriber, feed)

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
