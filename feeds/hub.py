"""The hub: who is subscribed to which feed in which format, and the fan-out of ticks and status changes to them.

Two steps, and a seam between them. `Hub.publish` takes what the producer makes (ticks and status changes) and
encodes each once (`feeds.encoded`): a tick becomes its WebSocket frame in every format, built before any subscriber
is looked at. `Hub.deliver` hands those bytes to the subscribers of each format, the very same bytes object to
each, so the cost of encoding does not grow with the number of clients, and keeps the newest in the feed's history
(`feeds.history`), from which a subscription may start with a replay. In-process the first step calls the
second; a broker will take over between them (the producing node encodes, every node delivers), without the
producer or the subscribers noticing.

A status goes to subscribers when it changes the feed's health or its error, not when it only counts one more failure
of a feed failing the same way: a feed that fails on every beat sends each subscriber one status, not one a beat. The
hub keeps the latest one, count included, for whoever asks (`Hub.status`).

The hub is also where the rest of the server asks what a feed is now: its status, its history, and its fields
(`Hub.fields`): the ones the feed declares, or, for a feed that declares none, the ones its first tick carries. Data
flows one way, feed -> producer -> hub -> readers: nothing writes back onto a `Feed` once it is built.

Until a feed without declared fields has delivered its first tick, nobody can be told what its values are: a
subscriber may wait for it (`Hub.wait_for_fields`, a client's held subscribe). Its `Waiter` is told just before that
tick is delivered, so that it can subscribe in time to be delivered it, or, when none comes within `wait_seconds`,
that the wait is over. The waits of a feed are timed by one timer of the hub's `Clock`, not one each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .clock import Clock, LoopClock
from .codec import Format, encode_feed_added
from .encoded import Encoded, EncodedStatus, EncodedTick, encode_event
from .feed import Feed, Field
from .frames import Opcode, frame
from .history import HISTORY_BYTES, HISTORY_SECONDS, HISTORY_TICKS, History, Replay, tick_cost, typical_tick
from .status import FeedStatus
from .tick import Tick

__all__ = ["WAIT_INTERVALS", "Hub", "Subscriber", "Waiter", "wait_seconds"]

# A subscriber waits for the first tick of a feed without declared fields this many of the feed's intervals, or,
# when that is longer, the feed's timeout and one interval more: the first sample may take all of its timeout.
WAIT_INTERVALS = 3

log = logging.getLogger("dashboard.hub")


class Subscriber(Protocol):
    """Anything that accepts WebSocket frames: a connection, or a list in a test."""

    def send(self, frame: bytes, key: Hashable | None = None) -> None:
        """Write or queue one frame; must not block and should not raise.

        Frames with the same ``key`` (a feed's ticks, a feed's statuses) supersede each other: a connection that
        cannot keep up may keep only the newest. A frame without a key (a reply) must be delivered.
        """

    def send_many(self, frames: Sequence[tuple[bytes, Hashable]]) -> None:
        """Write or queue several frames, in order, at once (one ``send`` where possible)."""

    def send_replay(self, replay: Replay, fmt: Format) -> None:
        """Queue a replay of held ticks in ``fmt``, after whatever is queued and before whatever comes next; its
        frames are read from the history as the connection takes them (`feeds.history.Replay.take`), never copied
        all at once. Never dropped, like a reply."""

    def fail(self) -> None:
        """A send raised: end the connection with an error. The hub has already dropped it from every feed, and a
        connection that stayed open would wait for ticks that never come."""


class Waiter(Protocol):
    """Whoever a subscriber waits for a feed's first tick on behalf of (a client's session): told once how it ended."""

    def feed_ready(self, feed: str) -> None:
        """``feed``'s fields are known now (`Hub.fields`) and its first tick is about to be delivered: subscribe now
        to be delivered it. The wait is over."""

    def feed_not_ready(self, feed: str) -> None:
        """No tick of ``feed`` came within `wait_seconds`: the wait is over, and nothing was subscribed."""


def wait_seconds(feed: Feed) -> float:
    """How long a subscriber may wait for ``feed``'s first tick: ``max(3 x interval, timeout + interval)``."""
    return max(WAIT_INTERVALS * feed.interval, feed.timeout + feed.interval)


@dataclass(frozen=True, slots=True)
class Wait:
    """One subscriber's wait for a feed's first tick: when it ends (on the hub's clock), and whom to tell."""

    deadline: float
    waiter: Waiter


class Hub:
    """Subscriptions by feed and format, the fan-out of published ticks, and what each feed is now.

    Each feed's history holds at most ``history_ticks``, ``history_seconds`` and ``history_bytes``, and all of them
    together at most ``history_total_bytes`` (when given): each its share, recomputed when a feed is added.
    ``clock`` times the waits for a first tick (the event loop's by default; a test passes one it advances).
    """

    def __init__(
        self,
        feeds: Iterable[Feed],
        history_ticks: int = HISTORY_TICKS,
        history_seconds: float = HISTORY_SECONDS,
        history_bytes: int = HISTORY_BYTES,
        *,
        history_total_bytes: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._history_limits = (history_ticks, history_seconds, history_bytes)
        self._history_total_bytes = history_total_bytes
        self._clock = clock or LoopClock()
        self._feeds: dict[str, Feed] = {}
        self._histories: dict[str, History] = {}
        self._statuses: dict[str, FeedStatus] = {}
        self._fields: dict[str, tuple[Field, ...]] = {}
        # Dicts rather than sets: insertion order makes delivery order stable and predictable in tests.
        self._subscribers: dict[str, dict[Format, dict[Subscriber, None]]] = {}
        # The feeds whose fields are not known yet; while it is empty, a delivery does not look for first ticks.
        self._fieldless: set[str] = set()
        # Waits for a first tick, by feed (only feeds with some), oldest first: as every wait of a feed lasts as
        # long, also the order they end in. Each such feed has one timer, set for its oldest wait's deadline.
        self._waits: dict[str, dict[Subscriber, Wait]] = {}
        self._wait_timers: dict[str, object] = {}
        for feed in feeds:
            self.add_feed(feed)

    def add_feed(self, feed: Feed) -> None:
        """Serve one more feed (in a cluster: another machine's own, `Feed.per_host`, found after the start); every
        subscriber of any feed is told (``feed_added``), so that a page shows it without a reload."""
        name = feed.name
        if name in self._feeds:
            raise ValueError(f"feed {name!r} is served already")
        news = frame(encode_feed_added(name), Opcode.TEXT)
        everyone = {
            subscriber: None
            for groups in self._subscribers.values()
            for group in groups.values()
            for subscriber in group
        }
        self._feeds[name] = feed
        self._histories[name] = History(*self._history_limits)
        if self._history_total_bytes is not None:
            share = min(self._history_limits[2], self._history_total_bytes // len(self._feeds))
            for history in self._histories.values():
                history.max_bytes = share  # a history over its new share lets its oldest go at its next tick
        self._statuses[name] = FeedStatus(name)
        self._fields[name] = fields = tuple(feed.fields)
        self._subscribers[name] = {fmt: {} for fmt in Format}
        if fields:
            self._say_if_wide(name, typical_tick(name, tuple(field.name for field in fields)))
        else:
            self._fieldless.add(name)
        for subscriber in everyone:
            try:
                subscriber.send(news)
            except Exception:
                self._drop(subscriber, name)

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
        """The latest status published for the feed called ``name``, with its current count of failures (a status
        that changes only that count is recorded, not sent to subscribers)."""
        return self._statuses[name]

    def history(self, feed: str) -> History:
        """The held ticks of the feed called ``feed`` (see `feeds.history`)."""
        return self._histories[feed]

    def subscribe(self, feed: str, subscriber: Subscriber, fmt: Format) -> None:
        """Deliver ``feed``'s ticks to ``subscriber`` from the next tick on."""
        self._subscribers[feed][fmt][subscriber] = None

    def unsubscribe(self, feed: str, subscriber: Subscriber) -> None:
        """Stop delivering ``feed``'s ticks to ``subscriber``, or end its wait for the first one (its waiter is not
        told); does nothing if it was neither subscribed nor waiting."""
        for group in self._subscribers[feed].values():
            group.pop(subscriber, None)
        if feed in self._waits:
            self._end_wait(feed, subscriber)

    def wait_for_fields(self, feed: str, subscriber: Subscriber, waiter: Waiter) -> None:
        """Hold ``subscriber`` until ``feed``'s fields are known: ``waiter.feed_ready(feed)`` is called just before
        the feed's first tick is delivered (at once if its fields are known already), or ``waiter.feed_not_ready(feed)``
        if no tick comes within `wait_seconds`. One wait per subscriber and feed: a second one replaces the first."""
        if self._fields[feed]:
            waiter.feed_ready(feed)
            return
        waits = self._waits.setdefault(feed, {})
        waits.pop(subscriber, None)  # to the back of the line, where its deadline belongs
        waits[subscriber] = Wait(self._clock.time() + wait_seconds(self._feeds[feed]), waiter)
        if feed not in self._wait_timers:
            self._set_wait_timer(feed)

    def waiting(self, feed: str) -> list[Subscriber]:
        """Everyone waiting for ``feed``'s first tick, oldest first."""
        return list(self._waits.get(feed, ()))

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

        Each subscriber gets all of its frames of ``messages`` together, in order, in one write where it can. A feed's
        first tick, when the feed declares no fields, fixes them, and those waiting for it are told before anything
        of ``messages`` is recorded or sent: what they subscribe then starts with ``messages``.
        """
        if self._fieldless:
            self._first_ticks(messages)
        messages = self._record(messages)
        if not messages:
            return
        if len(messages) == 1:
            (message,) = messages
            for fmt, group in self._subscribers[message.feed].items():
                if group:
                    self._send_all(message.feed, group, message.frame(fmt), message.key)
            return
        self._deliver_batch(messages)

    def _first_ticks(self, messages: Sequence[Encoded]) -> None:
        """The first tick of a feed without declared fields fixes them; those waiting for it are told."""
        for message in messages:
            if isinstance(message, EncodedTick) and message.feed in self._fieldless:
                self._fieldless.discard(message.feed)
                self._fields[message.feed] = tuple(Field(name) for name in message.fields)
                self._say_if_wide(message.feed, message)
                for wait in self._end_waits(message.feed):
                    self._tell(wait.waiter.feed_ready, message.feed)

    def _say_if_wide(self, feed: str, tick: EncodedTick) -> None:
        """Warn once when ``feed``'s ticks are so wide that its history is bounded by its bytes, not its ticks."""
        history = self._histories[feed]
        each = tick_cost(tick)
        if history.max_ticks and each * history.max_ticks > history.max_bytes:
            log.warning(
                "feed %s: a tick of its %d fields takes about %d bytes held, so its history holds about %d ticks "
                "(--history-bytes %d), not %d (--history-ticks)",
                feed,
                len(tick.fields),
                each,
                history.max_bytes // each,
                history.max_bytes,
                history.max_ticks,
            )

    def _set_wait_timer(self, feed: str) -> None:
        """Time the oldest wait of ``feed``: the one to end first."""
        deadline = next(iter(self._waits[feed].values())).deadline
        self._wait_timers[feed] = self._clock.call_at(deadline, lambda: self._expire(feed, deadline))

    def _expire(self, feed: str, due: float) -> None:
        """``feed``'s wait timer: the waits due end with ``feed_not_ready``; the timer is set for the next one."""
        del self._wait_timers[feed]
        now = max(due, self._clock.time())  # a timer may run a hair before its time
        waits = self._waits[feed]
        ended = []
        for subscriber, wait in waits.items():
            if wait.deadline > now:
                break
            ended.append(subscriber)
        expired = [waits.pop(subscriber) for subscriber in ended]
        if waits:
            self._set_wait_timer(feed)
        else:
            del self._waits[feed]
        for wait in expired:
            self._tell(wait.waiter.feed_not_ready, feed)

    def _end_wait(self, feed: str, subscriber: Subscriber) -> None:
        """Forget ``subscriber``'s wait for ``feed``, if any; the last wait of a feed takes its timer with it."""
        waits = self._waits[feed]
        waits.pop(subscriber, None)
        if not waits:
            self._end_waits(feed)

    def _end_waits(self, feed: str) -> list[Wait]:
        """Forget every wait for ``feed`` and its timer; the waits, oldest first."""
        timer = self._wait_timers.pop(feed, None)
        if timer is not None:
            self._clock.cancel(timer)
        return list(self._waits.pop(feed, {}).values())

    @staticmethod
    def _tell(news: Callable[[str], None], feed: str) -> None:
        # A waiter that fails must not keep the tick from the others, nor the others from their news.
        try:
            news(feed)
        except Exception:
            log.exception("telling a subscriber waiting for %s's first tick failed", feed)

    def _record(self, messages: Sequence[Encoded]) -> Sequence[Encoded]:
        """A status becomes the feed's; a tick joins its history. What the subscribers are sent: the ticks, and the
        statuses that change a feed's health or error; one that only counts another failure is not news enough to
        send to every subscriber on every failure (the count is read where it is asked for: `status`)."""
        news: list[Encoded] = []
        for message in messages:
            if isinstance(message, EncodedStatus):
                before, self._statuses[message.feed] = self._statuses[message.feed], message.status
                if not message.status.changes(before):
                    continue
            else:
                self._histories[message.feed].append(message)
            news.append(message)
        return news

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
        for feed in [feed for feed, waits in self._waits.items() if subscriber in waits]:
            self._end_wait(feed, subscriber)
        try:
            subscriber.fail()
        except Exception:
            log.exception("subscriber %r failed to close", subscriber)
