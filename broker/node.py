"""A node of the cluster: this process's side of the broker, on Redis (redis-py's asyncio client, with hiredis).

`RedisBroker` does three jobs, each in one task or callback, and shares nothing else with the rest of the server:

- **Leading** (`_lead`, a round every third of ``--leader-ttl``): for every feed this process may sample, it renews
  the leases it holds and tries to take the others (`broker.scripts.ACQUIRE`). A feed it leads is sampled by its
  own `Producer`, numbered from where the last leader stopped: the same run, the next seq, and the feed handed the
  last tick (`feeds.feed.Feed.take_over`). A lease that is taken, refused, or not renewed before it runs out ends the
  leadership at once: sampling stops (`Producer.remove`). SIGTERM lets every lease go and says so on the control
  channel, so that another node takes each feed within a round trip, not a TTL.
- **Appending** (`publish`, then `_write`): the producer's ticks and status changes, encoded once here, go to Redis
  in order (pipelined when several wait), each through the fenced `APPEND` or `STATUS` script. A refusal (the lease
  passed to another while this process was paused, the run is gone, a seq out of turn) ends the leadership; nothing
  is retried, so no seq is ever written twice. What waits to be written is bounded (`MAX_OUTBOX`).
- **Listening** (`_listen`): one subscription per feed on one connection, however many clients the node has. Each
  tick received is checked against the feed's history: a duplicate is dropped, and a hole (a message lost while
  the subscription was down, which pub/sub never reports) is filled from the feed's stream before the tick is
  delivered (`Hub.deliver`, the hub's seam), so clients never see a hole that Redis still holds. At start and after
  every reconnection the history is brought in step with the stream first. A subscription that hears nothing, not
  even the node's own pings, for `DEAF_AFTER` rounds is deaf: it is dropped and made again.

When Redis is unreachable every client stays connected: the node steps down from every feed (it cannot append,
and another node may have the lease by the time it can), tells its clients each feed is stale and why, reports
itself degraded (`problems`), and tries again after a capped, fully jittered backoff (`broker.backoff`). Nothing
is buffered meanwhile: no ticks are made while no leader can append them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from feeds.clock import Clock, LoopClock
from feeds.encoded import Encoded, EncodedStatus, EncodedTick
from feeds.feed import Feed
from feeds.history import tick_cost
from feeds.hub import Hub
from feeds.producer import Producer
from feeds.sequencer import new_run_id
from feeds.status import FeedStatus, Health
from feeds.tick import Tick
from feeds.tokenbucket import LineBudget

from . import scripts, wire
from .backoff import Backoff
from .hosts import FORGET_AFTER, RemoteFeed, describe, settings_of
from .scripts import CONTROL_CHANNEL, FEEDS_KEY, HOSTS_KEY, Keys, Refusal
from .url import BrokerURL

__all__ = ["BrokerError", "RedisBroker"]

log = logging.getLogger("dashboard.broker")

# A lease is renewed this many times per TTL: a renewal may fail twice and the lease still hold.
ROUNDS_PER_TTL = 3
# A subscription that has heard nothing (its own pings come every round) for this many rounds is deaf.
DEAF_AFTER = 3
# The listener looks up from its subscription at least this often (seconds): to subscribe to a feed found since, and
# to notice silence.
POLL_SECONDS = 0.5
# After a failure, Redis is tried again after a delay of up to RETRY_FIRST x 2^n seconds, at most RETRY_CAP.
RETRY_FIRST = 0.25
RETRY_CAP = 5.0
# Appends waiting for Redis, all feeds together; past it a leader steps down rather than hold more.
MAX_OUTBOX = 10_000
# A hole or a catch-up is read from a stream this many ticks at a time.
READ_CHUNK = 1_000
# On SIGTERM, pending appends get at most this long (seconds) to land before the leases are let go.
DRAIN_SECONDS = 0.5

REDIS_ERRORS = (redis_errors.RedisError, OSError)
# The errors that mean Redis cannot be reached (rather than one reply refused: a full Redis, a key of the wrong type).
OUTAGE_ERRORS = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)
# A command waits at most this long (seconds) for its reply, whatever the TTL: a hung Redis is noticed, and a
# hand-over on SIGTERM is tried within the shutdown's budget.
MAX_COMMAND_SECONDS = 1.0
# Lines about a reply Redis refused: at most one a minute of each kind.
REFUSED_LOG_INTERVAL = 60.0


class BrokerError(Exception):
    """Redis cannot be used at start (unreachable, a wrong password, not a Redis): one line, and exit 2."""


class DeafError(Exception):
    """The subscription heard nothing for too long, not even this node's own pings."""


@dataclass(eq=False)
class Term:
    """One leadership of one feed by this process: its lease's token, and the run and last seq it numbers from."""

    feed: Feed
    keys: Keys
    token: str
    run: int
    seq: int
    stream_length: int
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class TermSequencer:
    """The `feeds.sequencer.Sequencer` of a feed's ticks in one term: the same run, seq on from the last appended."""

    def __init__(self, term: Term) -> None:
        self._term = term

    def run(self, feed: str) -> int:
        return self._term.run

    def next(self, feed: str) -> tuple[int, int]:
        term = self._term
        term.seq += 1
        return term.run, term.seq


class RedisBroker:
    """This process as a node of the cluster: leads what it can, appends what it samples, delivers what anyone did.

    ``feeds`` are the feeds this process may sample: every shared feed, and this machine's per-host ones (named
    ``NAME@NODE``); the hub serves them and, once found, the other machines' own. ``history_ticks`` and
    ``history_seconds`` bound each feed's stream as they bound its history.
    """

    def __init__(
        self,
        url: BrokerURL,
        hub: Hub,
        feeds: Iterable[Feed],
        *,
        node: str,
        leader_ttl: float,
        history_ticks: int,
        history_seconds: float,
        clock: Clock | None = None,
    ) -> None:
        self.url = url
        self.node = node
        self.leader_ttl = leader_ttl
        self._hub = hub
        self._feeds = {feed.name: feed for feed in feeds}
        self._history = (history_ticks, history_seconds)
        self._clock = clock or LoopClock()
        self.producer = Producer((), self, clock=self._clock)
        timeout = min(leader_ttl / ROUNDS_PER_TTL, MAX_COMMAND_SECONDS)
        self._redis = Redis(
            **url.connection_options(),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # our own backoff, with jitter, decides when to try again
            client_name=f"dashboard:{node}:{os.getpid()}",
        )
        self._acquire = self._redis.register_script(scripts.ACQUIRE)
        self._renew = self._redis.register_script(scripts.RENEW)
        self._release = self._redis.register_script(scripts.RELEASE)
        self._append = self._redis.register_script(scripts.APPEND)
        self._status = self._redis.register_script(scripts.STATUS)
        self._new_run = self._redis.register_script(scripts.NEW_RUN)
        self._terms: dict[str, Term] = {}
        self._outbox: list[tuple[Term, Tick | FeedStatus]] = []
        self._writer: asyncio.Task[None] | None = None
        self._names: dict[str, wire.FieldNames] = {}
        self._channels: dict[bytes, str] = {}
        self._unheard: list[str] = []  # feeds the listener has yet to subscribe to
        self._loops: set[asyncio.Task[Any]] = set()  # leading and listening
        self._removals: set[asyncio.Task[Any]] = set()  # feeds stopping after their leadership ended
        self._wake = asyncio.Event()
        self._heard = 0.0
        self._leaderless: dict[str, float] = {}
        self._taking: Keys | None = None  # the lease being asked for, and its token, while its ACQUIRE is out
        self._taking_token = ""
        self._refused_lines = LineBudget(1 / REFUSED_LOG_INTERVAL, 1, 64, self._clock.time, quiet=True)
        self._listening = False
        self._commanding = False
        self._outage: str | None = "not connected yet"
        self._stopping = False
        # What an operator (and issue 21's metrics) may want counted.
        self.refused_appends = 0
        self.holes_filled = 0
        self.reconnects = 0
        for name in self._hub_feed_names():
            self._follow(name)

    # -- what the rest of the server sees ------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Why this node is degraded, if it is: empty while Redis serves it."""
        return [] if self._outage is None else [f"broker {self.url.redacted}: {self._outage}"]

    @property
    def leaderships(self) -> list[str]:
        """The feeds this process leads now."""
        return list(self._terms)

    async def start(self) -> None:
        """Check that Redis answers, tell the cluster about this node's feeds, then lead and listen.

        Raises `BrokerError` when Redis cannot be used at all; later outages degrade the service instead.
        """
        try:
            await self._redis.ping()
            await self._introduce()
        except redis_errors.AuthenticationError as exc:
            await self._redis.aclose()
            if self.url.password is None:
                raise BrokerError(
                    f"the broker {self.url.redacted} wants a password: give it as redis://:PASSWORD@HOST:PORT/DB"
                ) from None
            raise BrokerError(f"the broker {self.url.redacted} refused the password: {self._scrub(exc)}") from None
        except REDIS_ERRORS as exc:
            await self._redis.aclose()
            raise BrokerError(f"cannot use the broker {self.url.redacted}: {self._scrub(exc)}") from None
        pubsub = self._redis.pubsub()
        try:
            await self._subscribe(pubsub)  # the history in step with the stream before the first client comes
        except REDIS_ERRORS as exc:
            await pubsub.aclose()
            await self._redis.aclose()
            raise BrokerError(f"cannot use the broker {self.url.redacted}: {self._scrub(exc)}") from None
        self._spawn(self._loops, self._listen(pubsub))
        self._spawn(self._loops, self._lead())

    async def stop(self) -> None:
        """Stop sampling, let the last appends land (briefly), hand every leadership over, and disconnect."""
        self._stopping = True
        loops = list(self._loops)
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        terms = list(self._terms.values())
        for term in terms:
            self._end(term)
        for term in terms:
            self._spawn(self._removals, self.producer.remove(term.feed.name))
        if self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer], timeout=DRAIN_SECONDS)
        leases = [(term.keys, term.token) for term in terms]
        if self._taking is not None:
            leases.append((self._taking, self._taking_token))  # its ACQUIRE may have run, its reply cancelled
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, token in leases:
                    await self._let_lease_go(keys, token, pipe)
                await pipe.execute()
            if terms:
                log.info("handed over %s", ", ".join(term.feed.name for term in terms))
        except REDIS_ERRORS as exc:
            log.warning(
                "could not hand over %d leaderships (they end with their lease): %s", len(terms), self._scrub(exc)
            )
        if self._removals:
            await asyncio.wait(self._removals)
        await self._redis.aclose()

    # -- appending -------------------------------------------------------------------------------------------------

    def publish(self, events: Sequence[Tick | FeedStatus]) -> None:
        """The producer's ticks and status changes: written to Redis in order by the writer; delivered, here as on
        every node, when they come back on the feed's subscription."""
        for event in events:
            term = self._terms.get(event.feed)
            if term is None:
                continue  # its leadership ended while it sampled
            if len(self._outbox) >= MAX_OUTBOX:
                self._step_down(term, f"Redis has not taken the last {MAX_OUTBOX} appends")
                continue
            self._outbox.append((term, event))
        if self._outbox and (self._writer is None or self._writer.done()):
            self._writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            try:
                if len(batch) == 1:
                    # The usual case, one tick: one EVALSHA. A pipeline that holds a script first asks Redis whether
                    # it exists (SCRIPT EXISTS): a round trip more for every tick.
                    try:
                        results = [await self._queue_append(self._redis, *batch[0])]
                    except redis_errors.ResponseError as exc:  # Redis answered: the script failed, not the link
                        results = [exc]
                else:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for term, event in batch:
                            await self._queue_append(pipe, term, event)
                        results = await pipe.execute(raise_on_error=False)
            except REDIS_ERRORS as exc:
                if isinstance(exc, OUTAGE_ERRORS):
                    self._lost(exc)
                for term in {term for term, _ in batch}:
                    self._step_down(term, f"an append failed: {self._scrub(exc)}")
                continue
            for (term, event), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    self._step_down(term, f"an append failed: {self._scrub(result)}")
                elif result != 1 and self._terms.get(term.feed.name) is term:
                    self.refused_appends += 1
                    what = f"seq {event.seq}" if isinstance(event, Tick) else "status"
                    self._step_down(term, f"Redis refused its append of {what}: {_refusal(result)}")

    async def _queue_append(self, client: Any, term: Term, event: Tick | FeedStatus) -> Any:
        """Append the event through ``client``: its result from the client, the pipeline itself from a pipeline."""
        keys = term.keys
        if isinstance(event, Tick):
            message = wire.tick_message(EncodedTick.of(event))
            args: list[bytes | str | int] = [term.token, term.run, event.seq, message, term.stream_length, keys.live]
            return await self._append(keys=[keys.lease, keys.meta, keys.ticks], args=args, client=client)
        args = [term.token, wire.status_message(event), keys.live]
        return await self._status(keys=[keys.lease, keys.meta], args=args, client=client)

    # -- leading ---------------------------------------------------------------------------------------------------

    async def _lead(self) -> None:
        backoff = Backoff(RETRY_FIRST, RETRY_CAP)
        pause = self.leader_ttl / ROUNDS_PER_TTL
        while not self._stopping:
            try:
                await self._round()
                self._commanding = True
                self._recovered()
                backoff.reset()
                delay = pause
            except OUTAGE_ERRORS as exc:
                self._commanding = False
                self._lost(exc)
                for term in list(self._terms.values()):
                    self._step_down(term, "Redis is unreachable")
                delay = backoff.next()
            except redis_errors.RedisError as exc:
                self._refused("a round of leading", exc)  # a reply refused, not Redis gone: the leases stand
                delay = pause
            except Exception:
                # A bug, or a reply not as expected: the round is lost, not the node's leading.
                log.exception("a round of leading failed")
                delay = backoff.next()
            self._wake.clear()
            # Not wait_for: in Python 3.11 it can swallow a cancellation that comes as the event is set.
            waking = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait([waking], timeout=delay)
            finally:
                waking.cancel()

    async def _round(self) -> None:
        """Renew what this process leads, take what nobody leads, notice feeds nobody produces, find new hosts."""
        ttl_ms = round(self.leader_ttl * 1000)
        for name, term in list(self._terms.items()):
            sent = self._clock.time()
            renewed = await self._renew(keys=[term.keys.lease], args=[term.token, ttl_ms])
            if self._terms.get(name) is not term:
                continue
            if renewed:
                self._extend(term, sent + self.leader_ttl)
            else:
                self._step_down(term, "its lease passed to another process")
        for name, feed in self._feeds.items():
            if name not in self._terms and not self._stopping:
                try:
                    await self._take(feed, ttl_ms)
                except redis_errors.ResponseError as exc:
                    self._refused(f"taking feed {name}", exc)  # one feed's keys refused: the others go on
        names = self._hub_feed_names()
        own = self._own_hosts()
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.pttl(Keys.of(name).lease)
            if own:
                pipe.hset(HOSTS_KEY, mapping=own)  # type: ignore[arg-type]
            pipe.hgetall(HOSTS_KEY)
            pipe.publish(CONTROL_CHANNEL, b"ping")
            replies = await pipe.execute()
        self._notice_leaderless(names, replies[: len(names)])
        gone = self._discover(replies[-2])
        if gone:
            await self._redis.hdel(HOSTS_KEY, *gone)

    async def _take(self, feed: Feed, ttl_ms: int) -> None:
        keys = Keys.of(feed.name)
        token = f"{self.node}:{os.getpid()}:{secrets.token_hex(8)}"
        sent = self._clock.time()
        self._taking, self._taking_token = keys, token
        try:
            taken = await self._acquire(keys=[keys.lease, keys.meta, keys.ticks], args=[token, ttl_ms, new_run_id()])
        finally:
            self._taking = None
        if not taken:
            return
        run, seq, last = int(taken[0]), int(taken[1]), taken[2]
        newest = self._hub.history(feed.name).newest
        if newest is not None and newest[0] == run and newest[1] > seq:
            # This node delivered ticks of the run that Redis no longer has: going on would use their seqs again.
            run, seq, last = await self._start_new_run(feed.name, run, newest[1], seq), 0, None
        term = self._terms[feed.name] = Term(feed, keys, token, run, seq, self._stream_length(feed))
        self._extend(term, sent + self.leader_ttl)
        values = None
        if last:
            try:
                tick = wire.read(feed.name, last, wire.FieldNames())
                values = wire.values_of(tick) if isinstance(tick, EncodedTick) else None
            except (wire.WireError, ValueError) as exc:
                log.warning("feed %s: its last tick in Redis cannot be read (%s): it starts over", feed.name, exc)
        log.info("leading feed %s: run %d, from seq %d", feed.name, run, seq + 1)
        self.producer.add(feed, TermSequencer(term), values)

    def _stream_length(self, feed: Feed) -> int:
        """About how many ticks a feed's stream keeps: its history's, and at least its last (for a new leader)."""
        ticks, seconds = self._history
        return max(1, min(ticks, math.ceil(seconds / feed.interval) + 1))

    def _extend(self, term: Term, deadline: float) -> None:
        """The lease holds until ``deadline`` (on the clock of the moment its renewal was sent): if it is not renewed
        by then, sampling stops at once, whatever Redis says later."""
        if term.timer is not None:
            term.timer.cancel()
        term.timer = asyncio.get_running_loop().call_at(deadline, self._expire, term)

    def _expire(self, term: Term) -> None:
        if self._terms.get(term.feed.name) is term:
            self._step_down(term, "its lease ran out before it could be renewed")

    def _end(self, term: Term) -> None:
        del self._terms[term.feed.name]
        if term.timer is not None:
            term.timer.cancel()

    def _step_down(self, term: Term, why: str) -> None:
        """Stop sampling the term's feed at once; another process may lead it now."""
        if self._terms.get(term.feed.name) is not term:
            return
        self._end(term)
        log.warning("feed %s: no longer leading it: %s", term.feed.name, why)
        self._spawn(self._removals, self._let_go(term))

    async def _let_go(self, term: Term) -> None:
        """Stop sampling, then let the lease go if it is still the term's, so that another process (or this one,
        next round) takes the feed now rather than when the lease runs out."""
        await self.producer.remove(term.feed.name)
        keys = term.keys
        with contextlib.suppress(*REDIS_ERRORS):
            await self._let_lease_go(keys, term.token)

    async def _let_lease_go(self, keys: Keys, token: str, pipe: Any = None) -> None:
        """Delete the lease if it is still ``token``'s, and say so on the control channel (on ``pipe`` if given)."""
        await self._release(
            keys=[keys.lease], args=[token, CONTROL_CHANNEL, b"release:" + keys.lease.encode()], client=pipe
        )

    def _notice_leaderless(self, names: list[str], ttls: list[int]) -> None:
        """A feed without a lease for a TTL has no producer: its clients are told it is stale."""
        now = self._clock.time()
        for name, ttl in zip(names, ttls, strict=True):
            if ttl != -2:  # -2: no such key
                self._leaderless.pop(name, None)
                continue
            since = self._leaderless.setdefault(name, now)
            if now - since >= self.leader_ttl:
                self._stale(name, "no server produces this feed: its leader stopped and none has taken over")

    def _stale(self, name: str, why: str) -> None:
        status = self._hub.status(name)
        if status.health is not Health.STALE:
            self._hub.deliver([EncodedStatus.of(FeedStatus(name, Health.STALE, status.failures, why))])

    # -- what nodes tell each other ---------------------------------------------------------------------------------

    async def _introduce(self) -> None:
        """Describe this machine's own feeds, take in the other machines', and compare the shared feeds' settings."""
        own = self._own_hosts()
        shared = {name: orjson.dumps(settings_of(feed)) for name, feed in self._feeds.items() if not feed.per_host}
        async with self._redis.pipeline(transaction=False) as pipe:
            if own:
                pipe.hset(HOSTS_KEY, mapping=own)  # type: ignore[arg-type]
            pipe.hgetall(HOSTS_KEY)
            pipe.hgetall(FEEDS_KEY)
            replies = await pipe.execute()
        gone = self._discover(replies[-2])
        if gone:
            await self._redis.hdel(HOSTS_KEY, *gone)
        recorded = {key.decode(): value for key, value in replies[-1].items()}
        differences = [f"{name}: not run here" for name in sorted(recorded.keys() - shared.keys())]
        differences += [
            f"{name}: other settings ({_first_difference(orjson.loads(recorded[name]), orjson.loads(text))})"
            for name, text in shared.items()
            if name in recorded and recorded[name] != text
        ]
        if recorded:
            differences += [f"{name}: not run by the others" for name in sorted(shared.keys() - recorded.keys())]
        if differences:
            log.warning(
                "this node's feeds differ from the cluster's (as %s records them): %s",
                FEEDS_KEY,
                "; ".join(differences),
            )
        if shared:
            await self._redis.hset(FEEDS_KEY, mapping=shared)  # type: ignore[arg-type]

    def _own_hosts(self) -> dict[str, bytes]:
        """This machine's own feeds, described for the other nodes."""
        now = self._clock.wall()
        return {name: describe(feed, now) for name, feed in self._feeds.items() if feed.per_host}

    def _discover(self, hosts: dict[bytes, bytes]) -> list[str]:
        """Serve the other machines' own feeds that this node does not serve yet; the names of those long gone."""
        gone = []
        for raw, text in hosts.items():
            name = raw.decode(errors="replace")
            if name in self._channels.values() or name in self._feeds:
                continue
            try:
                feed = RemoteFeed.of(name, text)
            except ValueError as exc:
                log.warning("%s in %s: ignored", exc, HOSTS_KEY)
                continue
            if self._clock.wall() - feed.seen > FORGET_AFTER:
                gone.append(name)
                continue
            self._hub.add_feed(feed)
            self._follow(name)
            log.info("serving feed %s of another machine", name)
        return gone

    def _follow(self, name: str) -> None:
        self._channels[Keys.of(name).live.encode()] = name
        self._names[name] = wire.FieldNames()
        self._unheard.append(name)

    def _hub_feed_names(self) -> list[str]:
        return [feed.name for feed in self._hub.feeds]

    # -- listening -------------------------------------------------------------------------------------------------

    async def _listen(self, pubsub: PubSub) -> None:
        """Hear every feed's channel on ``pubsub`` (subscribed already), and subscribe again after any failure."""
        backoff = Backoff(RETRY_FIRST, RETRY_CAP)
        while not self._stopping:
            try:
                await self._hear(pubsub)
            except Exception as exc:
                self._deaf(exc)
            finally:
                with contextlib.suppress(*REDIS_ERRORS):
                    await pubsub.aclose()
            while not self._stopping:
                await asyncio.sleep(backoff.next())
                self.reconnects += 1
                pubsub = self._redis.pubsub()
                try:
                    await self._subscribe(pubsub)
                    break
                except Exception as exc:
                    self._deaf(exc)
                    with contextlib.suppress(*REDIS_ERRORS):
                        await pubsub.aclose()
            backoff.reset()

    async def _subscribe(self, pubsub: PubSub) -> None:
        """Subscribe to the control channel and every feed's, then bring each feed's history in step with its
        stream (what is published meanwhile waits on the subscription, and is dropped there as a duplicate)."""
        self._unheard = []
        names = list(self._channels.values())
        await pubsub.subscribe(CONTROL_CHANNEL, *(Keys.of(name).live for name in names))
        for name in names:
            await self._catch_up(name)
        self._heard = self._clock.time()
        self._listening = True
        self._recovered()

    async def _hear(self, pubsub: PubSub) -> None:
        deaf_after = DEAF_AFTER * self.leader_ttl / ROUNDS_PER_TTL
        while True:
            if self._unheard:
                names, self._unheard = self._unheard, []
                await pubsub.subscribe(*(Keys.of(name).live for name in names))
                for name in names:
                    await self._catch_up(name)
            polled = self._clock.time()
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
            now = self._clock.time()
            if message is None:
                if now - polled > 2 * POLL_SECONDS:
                    # This process did not run (paused, a stalled loop): its own silence, not the subscription's.
                    self._heard = now
                elif now - self._heard > deaf_after:
                    raise DeafError(f"its subscription heard nothing, not even its own pings, for {deaf_after:g} s")
                continue
            self._heard = now
            # What has arrived together is delivered together: a client subscribed to feeds that tick on the same
            # beat gets them in one write, as from an in-process producer.
            news: list[Encoded] = []
            while message is not None:
                feed = self._channels.get(message["channel"])
                if feed is not None:
                    await self._receive(feed, message["data"], news)
                elif message["data"].startswith(b"release:") and not self._stopping:
                    self._wake.set()  # a feed was let go: take it now rather than next round
                if len(news) >= READ_CHUNK:
                    break
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
            self._hub.deliver(news)

    def _newest(self, name: str, news: list[Encoded]) -> tuple[int, int] | None:
        """The feed's newest tick, delivered or about to be (in ``news``)."""
        for event in reversed(news):
            if isinstance(event, EncodedTick) and event.feed == name:
                return event.run, event.seq
        return self._hub.history(name).newest

    async def _receive(self, name: str, data: bytes, news: list[Encoded]) -> None:
        """Add to ``news`` what a message of the feed brings: a status, or a tick (after the ticks of a hole before
        it that the stream still holds); nothing for a tick that is there already."""
        try:
            event = wire.read(name, data, self._names[name])
        except wire.WireError as exc:
            log.warning("%s: ignored", exc)
            return
        if isinstance(event, FeedStatus):
            news.append(EncodedStatus.of(event))
            return
        newest = self._newest(name, news)
        if newest is not None and newest[0] == event.run:
            if event.seq <= newest[1]:
                held = self._hub.history(name).held(event.run, event.seq)
                if held is not None and held.json != event.json:
                    # Not the tick delivered with this seq: Redis lost appends, and a leader reused their seqs.
                    await self._start_new_run(name, event.run, newest[1], event.seq - 1)
                return  # delivered already, from the stream
            if event.seq > newest[1] + 1:
                news += await self._fill(name, newest, newest[1] + 1, event.seq - 1)
        elif event.seq > 1:
            news += await self._fill(name, newest, None, event.seq - 1)  # a run this node has not seen yet
        news.append(event)

    async def _fill(self, name: str, newest: tuple[int, int] | None, first: int | None, last: int) -> list[EncodedTick]:
        """The ticks ``first`` to ``last`` of the feed's current run that its stream still holds (``first`` None: as
        many of the newest as its history holds), oldest first, and only those after ``newest``. Never more than
        the history holds: of a longer hole, the newest part (the history would let the rest go at once)."""
        if first is None:
            return await self._newest_held(name, newest, last)
        self.holes_filled += 1
        first = max(first, last - self._hub.history(name).max_ticks + 1)
        stream = Keys.of(name).ticks
        filled: list[EncodedTick] = []
        while first <= last:
            entries: Any = await self._redis.xrange(stream, min=f"{first}-0", max=f"{last}-0", count=READ_CHUNK)
            if not entries:
                break
            filled += self._news(name, newest, entries)
            first = int(entries[-1][0].split(b"-")[0]) + 1
        return filled

    async def _newest_held(self, name: str, newest: tuple[int, int] | None, last: int) -> list[EncodedTick]:
        """The newest ticks up to seq ``last`` that the feed's history would hold (its ticks and its bytes), read
        from the stream backwards a chunk at a time: a long stream of wide ticks is not read whole."""
        history = self._hub.history(name)
        stream = Keys.of(name).ticks
        chunks: list[list[EncodedTick]] = []
        count = held = 0
        top = f"{last}-0"
        while count < history.max_ticks and held < history.max_bytes:
            entries: Any = await self._redis.xrevrange(stream, max=top, min="-", count=READ_CHUNK)
            if not entries:
                break
            chunk = self._news(name, newest, reversed(entries))
            chunks.append(chunk)
            count += len(chunk)
            held += sum(tick_cost(tick) for tick in chunk)
            oldest = int(entries[-1][0].split(b"-")[0])
            if oldest <= 1 or len(entries) < READ_CHUNK:
                break
            top = f"{oldest - 1}-0"
        return [tick for chunk in reversed(chunks) for tick in chunk][-history.max_ticks :] if count else []

    def _news(self, name: str, newest: tuple[int, int] | None, entries: Any) -> list[EncodedTick]:
        """The ticks of stream entries (``[(id, {b"d": message}), ...]``) that come after ``newest``."""
        names = self._names[name]
        ticks = []
        for entry_id, entry in entries:
            try:
                tick = wire.read(name, entry[b"d"], names)
            except (wire.WireError, KeyError) as exc:
                # Not one this version writes (a newer node's, in a rolling upgrade): skipped, as a lost tick is.
                self._refused(f"reading entry {entry_id!r} of feed {name}'s stream", exc)
                continue
            if isinstance(tick, EncodedTick) and (newest is None or tick.run != newest[0] or tick.seq > newest[1]):
                ticks.append(tick)
        return ticks

    async def _catch_up(self, name: str) -> None:
        """Bring the feed's history in step with its stream, and take its leader's last status; a feed whose keys
        Redis refuses to read is skipped (the others are not)."""
        try:
            await self._catch_up_feed(name)
        except redis_errors.ResponseError as exc:
            self._refused(f"catching feed {name} up", exc)

    async def _catch_up_feed(self, name: str) -> None:
        meta: Any = await self._redis.hgetall(Keys.of(name).meta)
        if not meta or b"run" not in meta:
            return
        run, seq = int(meta[b"run"]), int(meta[b"seq"])
        newest = self._hub.history(name).newest
        if newest is not None and newest[0] == run:
            if seq > newest[1]:
                self._hub.deliver(await self._fill(name, newest, newest[1] + 1, seq))
            elif seq < newest[1]:
                await self._start_new_run(name, run, newest[1], seq)  # its leader's next append is refused
        elif seq:
            self._hub.deliver(await self._fill(name, newest, None, seq))
        if b"status" in meta:
            status = wire.read(name, meta[b"status"], self._names[name])
            if isinstance(status, FeedStatus):
                self._hub.deliver([EncodedStatus.of(status)])

    async def _start_new_run(self, name: str, run: int, delivered: int, held: int) -> int:
        """Redis holds the feed's ``run`` only up to seq ``held`` while this node delivered up to ``delivered``: the
        run cannot go on without using seqs twice, so a new one starts (its clients are told by the run's change, as
        after a restart). The run the feed goes on with."""
        fresh = new_run_id()
        keys = Keys.of(name)
        started = await self._new_run(keys=[keys.meta, keys.ticks], args=[run, fresh])
        if started:
            log.warning(
                "feed %s: Redis lost ticks %d to %d of run %d (a crash without appendfsync always?): run %d starts",
                name,
                held + 1,
                delivered,
                run,
                fresh,
            )
            return fresh
        current: Any = await self._redis.hget(keys.meta, "run")
        return fresh if current is None else int(current)  # (None: gone too; the next append finds out)

    # -- outages ---------------------------------------------------------------------------------------------------

    def _lost(self, exc: BaseException) -> None:
        """Redis failed this node's commands: once per outage, say so in the log; it is degraded (`problems`). Its
        clients are told only if its subscription fails too (`_deaf`): ticks it hears from other leaders go on."""
        if self._stopping:
            return
        reason = self._scrub(exc) or type(exc).__name__
        if self._outage is None or self._outage == "not connected yet":
            log.warning("the broker %s is unreachable (%s): reconnecting", self.url.redacted, reason)
        self._outage = f"unreachable ({reason})"

    def _deaf(self, exc: BaseException) -> None:
        """The subscription failed: this node hears no ticks until it is made again (and its feeds' histories and
        statuses are caught up from Redis then); every feed's clients are told why."""
        self._listening = False
        if self._stopping:
            return
        if not isinstance(exc, (*REDIS_ERRORS, DeafError)):
            log.error("listening to the broker failed: listening again", exc_info=exc)
        self._lost(exc)
        reason = self._scrub(exc) or type(exc).__name__
        for name in self._hub_feed_names():
            self._stale(name, f"this server lost its broker ({reason}): ticks resume when it is back")

    def _refused(self, what: str, exc: BaseException) -> None:
        """Redis refused one reply (a full Redis, a key of the wrong type), or one entry was unreadable: logged, at
        most once a minute of each kind; nothing else stops."""
        held = self._refused_lines.take((what.split(" ", maxsplit=1)[0], type(exc).__name__))
        if held is not None:
            more = f" ({held} more like it not logged)" if held else ""
            log.warning("%s failed: %s%s", what, self._scrub(exc), more)

    def _recovered(self) -> None:
        if self._outage is not None and self._listening and self._commanding:
            if self._outage != "not connected yet":
                log.info("the broker %s is back", self.url.redacted)
            self._outage = None

    def _scrub(self, exc: BaseException) -> str:
        """An error's text without the password, whatever the library put in it."""
        text = str(exc)
        if self.url.password:
            text = text.replace(self.url.password, "***")
        return text

    @staticmethod
    def _spawn(tasks: set[asyncio.Task[Any]], coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        tasks.add(task)  # held, or the loop may collect a task it only knows by a weak reference
        task.add_done_callback(tasks.discard)


def _refusal(result: object) -> str:
    try:
        reason = Refusal(int(result))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return f"unexpected reply {result!r}"
    return {
        Refusal.LEASE: "its lease passed to another process",
        Refusal.RUN: "the feed's run is gone from Redis",
        Refusal.SEQ: "another process appended since",
    }[reason]


def _first_difference(recorded: dict[str, Any], here: dict[str, Any]) -> str:
    for key in ("fields", "options"):
        if recorded.get(key) != here.get(key):
            if key == "options":
                for option, value in here[key].items():
                    if recorded[key].get(option) != value:
                        return f"{option} {value} here, {recorded[key].get(option)} recorded"
            return f"{key} differ"
    return "they differ"
