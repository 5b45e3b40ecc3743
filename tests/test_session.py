"""handlers.protocol.session: what a connection's messages mean, with no socket: a real hub, an in-memory subscriber."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from feeds import Feed, Field
from feeds.codec import Format
from feeds.hub import Hub, Subscriber
from feeds.tick import Tick
from handlers.protocol.session import Session, Shared
from handlers.security.auth import Authenticator
from handlers.settings import Settings

from .fakeclock import FakeClock
from .sinks import Sink


class Numbers(Feed):
    name = "numbers"
    fields = (Field("x", "%"),)


class Undeclared(Feed):
    """No fields declared, no sample yet: its fields are unknown. A subscribe to it waits 11 s at most."""

    name = "undeclared"
    interval = 1.0
    timeout = 10.0


WAIT = 11.0


def tick(seq: int) -> Tick:
    return Tick("numbers", 7, seq, 100.0 + seq, ("x",), (float(seq),))


def first(seq: int = 1) -> Tick:
    """A tick of the undeclared feed: the first one fixes its fields."""
    return Tick("undeclared", 3, seq, 200.0 + seq, ("y", "z"), (1.0, float(seq)))


@pytest.fixture
def clock() -> FakeClock:
    """The hub's clock, which times the waits of held subscribes."""
    return FakeClock()


@pytest.fixture
def hub(clock: FakeClock) -> Hub:
    return Hub([Numbers(), Undeclared()], clock=clock)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def session(hub: Hub, sink: Sink) -> Session:
    return Session(Shared(hub), sink)


def ask(session: Session, sink: Sink, message: Any) -> dict[str, Any]:
    """Send one request; the one reply it got."""
    before = len(sink.replies())
    session.receive(message if isinstance(message, (str, bytes)) else orjson.dumps(message).decode())
    replies = sink.replies()[before:]
    assert len(replies) == 1, replies
    reply: dict[str, Any] = replies[0]
    return reply


def test_ping_gets_pong_with_its_id_and_the_servers_time(hub: Hub, sink: Sink) -> None:
    session = Session(Shared(hub, wall=lambda: 1764694800.25), sink)
    assert ask(session, sink, {"op": "ping", "id": "p1"}) == {"op": "pong", "id": "p1", "ts": 1764694800.25}
    refused = ask(session, sink, {"op": "ping", "id": [1, "a"]})  # not a scalar: refused, and not echoed
    assert (refused["code"], "id" in refused) == ("invalid_message", False)


def test_subscribe_replies_first_then_the_hub_delivers(hub: Hub, session: Session, sink: Sink) -> None:
    reply = ask(session, sink, {"op": "subscribe", "feed": "numbers", "format": "binary", "id": 3})
    assert reply == {
        "op": "subscribed",
        "feed": "numbers",
        "format": "binary",
        "fields": ["x"],
        "status": "starting",
        "failures": 0,
        "error": None,
        "run": None,  # no tick yet
        "replayed": 0,
        "gap": False,
        "id": 3,
    }
    assert session.subscriptions == {"numbers": Format.BINARY}
    assert hub.subscribers("numbers") == [sink]
    hub.publish([tick(1)])
    assert sink.messages[-1][0][0] & 0x0F == 0x2  # the tick came after the reply, as a binary frame


def test_the_reply_goes_out_before_anything_the_hub_sends_on_subscribing(sink: Sink) -> None:
    class Eager(Hub):
        """Delivers a tick to a subscriber the moment it subscribes (as a replay of held ticks would)."""

        def subscribe(self, feed: str, subscriber: Subscriber, fmt: Format) -> None:
            super().subscribe(feed, subscriber, fmt)
            self.publish([tick(1)])

    session = Session(Shared(Eager([Numbers()])), sink)
    session.receive('{"op": "subscribe", "feed": "numbers"}')
    assert [message["op"] for message in sink.replies()] == ["subscribed", "data"]


def test_subscribing_twice_is_refused_and_keeps_the_first(hub: Hub, session: Session, sink: Sink) -> None:
    ask(session, sink, {"op": "subscribe", "feed": "numbers"})
    error = ask(session, sink, {"op": "subscribe", "feed": "numbers", "format": "binary"})
    assert (error["op"], error["code"]) == ("error", "already_subscribed")
    assert error["message"] == "already subscribed to 'numbers' (json)"
    assert session.subscriptions == {"numbers": Format.JSON}
    assert hub.subscriber_count("numbers") == 1


def test_unsubscribe_replies_and_stops_delivery(hub: Hub, session: Session, sink: Sink) -> None:
    ask(session, sink, {"op": "subscribe", "feed": "numbers"})
    assert ask(session, sink, {"op": "unsubscribe", "feed": "numbers", "id": "u"}) == {
        "op": "unsubscribed",
        "feed": "numbers",
        "id": "u",
    }
    assert hub.subscriber_count("numbers") == 0
    error = ask(session, sink, {"op": "unsubscribe", "feed": "numbers"})
    assert (error["code"], error["message"]) == ("not_subscribed", "not subscribed to 'numbers'")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"op": "subscribe", "feed": "stoks"}, ("unknown_feed", "unknown feed 'stoks' (known: numbers, undeclared)")),
        ({"op": "unsubscribe", "feed": "nope"}, ("unknown_feed", "unknown feed 'nope'")),
        (b"\x00\x01", ("binary_not_supported", "client messages must be JSON text frames")),
        ("{", ("invalid_json", "invalid JSON")),
    ],
)
def test_a_refused_request_gets_an_error_and_changes_nothing(
    hub: Hub, session: Session, sink: Sink, message: Any, expected: tuple[str, str]
) -> None:
    code, text = expected
    error = ask(session, sink, message)
    assert (error["op"], error["code"]) == ("error", code)
    assert text in error["message"]
    assert session.subscriptions == {}
    assert hub.subscriber_count("numbers") == hub.subscriber_count("undeclared") == 0


def test_a_bug_while_handling_is_an_internal_error_reply_and_a_log_line(
    hub: Hub, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenHub(Hub):
        def status(self, name: str) -> Any:
            raise RuntimeError("bug")

    session = Session(Shared(BrokenHub(hub.feeds)), sink)
    with caplog.at_level(logging.ERROR, logger="dashboard.session"):
        error = ask(session, sink, {"op": "subscribe", "feed": "numbers", "id": 1})
    assert error == {"op": "error", "code": "internal_error", "message": "internal error", "id": 1}
    assert session.subscriptions == {}
    assert [record.exc_info is not None for record in caplog.records] == [True]


def test_closing_unsubscribes_everything_and_later_messages_are_ignored(hub: Hub, session: Session, sink: Sink) -> None:
    ask(session, sink, {"op": "subscribe", "feed": "numbers"})
    session.close()
    assert session.closed
    assert session.subscriptions == {}
    assert hub.subscriber_count("numbers") == 0
    frames = len(sink.messages)
    session.receive('{"op": "ping"}')
    assert len(sink.messages) == frames


def test_a_connection_over_its_message_rate_is_refused_then_closed(hub: Hub, sink: Sink) -> None:
    clock = FakeClock()
    session = Session(Shared(hub, Settings(max_rate=1.0, max_burst=3), clock=clock.time), sink)
    assert [ask(session, sink, {"op": "ping", "id": n})["op"] for n in range(3)] == ["pong"] * 3
    refused = ask(session, sink, {"op": "ping", "id": 3})
    assert (refused["code"], refused["message"]) == ("rate_limited", "more than 1 messages a second: slow down")
    clock.advance(1.0)  # one message's worth
    assert ask(session, sink, {"op": "ping", "id": 4})["op"] == "pong"
    assert ask(session, sink, {"op": "ping"})["code"] == "rate_limited"
    assert ask(session, sink, {"op": "ping"})["code"] == "rate_limited"
    assert sink.closed_with == []
    session.receive('{"op": "ping"}')  # the third refusal in a row: flooding
    assert sink.closed_with == [(1008, "rate limit exceeded")]


def test_subscriptions_per_connection_are_limited(hub: Hub, sink: Sink) -> None:
    session = Session(Shared(hub, Settings(max_subscriptions=1)), sink)
    ask(session, sink, {"op": "subscribe", "feed": "numbers"})
    hub.publish([first()])  # its fields are known: no subscribe to it is held
    error = ask(session, sink, {"op": "subscribe", "feed": "undeclared", "id": 2})
    assert (error["code"], error["id"]) == ("too_many_subscriptions", 2)
    assert session.subscriptions == {"numbers": Format.JSON}
    ask(session, sink, {"op": "unsubscribe", "feed": "numbers"})
    assert ask(session, sink, {"op": "subscribe", "feed": "undeclared"})["op"] == "subscribed"


# --- the held subscribe: a feed whose fields are not known until its first tick ----------------------------------


def ops(sink: Sink) -> list[tuple[str, Any]]:
    """Each JSON frame's op, with its id (or a data frame's seq)."""
    return [(message["op"], message.get("id", message.get("seq"))) for message in sink.replies()]


def test_a_subscribe_is_held_until_the_first_tick_then_answered_and_given_that_tick(
    hub: Hub, session: Session, sink: Sink
) -> None:
    session.receive('{"op": "subscribe", "feed": "undeclared", "id": "s"}')
    assert sink.messages == []
    assert session.waiting == {"undeclared": Format.JSON}
    assert session.subscriptions == {}
    assert hub.waiting("undeclared") == [sink]
    assert ask(session, sink, {"op": "ping", "id": "p"})["op"] == "pong"  # other messages are answered meanwhile
    hub.publish([first(1)])
    hub.publish([first(2)])
    replies = sink.replies()
    assert replies[1] == {
        "op": "subscribed",
        "feed": "undeclared",
        "format": "json",
        "fields": ["y", "z"],
        "status": "starting",
        "failures": 0,
        "error": None,
        "run": None,  # as it was just before the first tick
        "replayed": 0,
        "gap": False,
        "id": "s",
    }
    assert [(message["op"], message.get("seq")) for message in replies[2:]] == [("data", 1), ("data", 2)]
    assert session.waiting == {}
    assert session.subscriptions == {"undeclared": Format.JSON}
    assert hub.waiting("undeclared") == []


def test_a_held_resume_after_a_restart_is_answered_with_a_gap_then_the_new_runs_ticks(
    hub: Hub, session: Session, sink: Sink
) -> None:
    session.receive('{"op": "subscribe", "feed": "undeclared", "format": "binary", "since": 40, "run": 9}')
    hub.publish([first(1)])
    reply = sink.replies()[0]
    assert (reply["op"], reply["replayed"], reply["gap"]) == ("subscribed", 0, True)
    assert [data[0] & 0x0F for data, _ in sink.messages[1:]] == [0x2]  # then the first tick, as a binary frame


def test_a_held_subscribe_with_no_tick_in_time_is_refused_feed_not_ready(
    hub: Hub, session: Session, sink: Sink, clock: FakeClock
) -> None:
    session.receive('{"op": "subscribe", "feed": "undeclared", "id": 5}')
    clock.advance(WAIT - 0.5)
    assert sink.messages == []
    clock.advance(0.5)
    assert sink.replies() == [
        {
            "op": "error",
            "code": "feed_not_ready",
            "message": "feed 'undeclared' produced no sample within 11 s of the subscribe, so its fields are unknown; "
            "retry later",
            "id": 5,
        }
    ]
    assert session.waiting == session.subscriptions == {}
    assert hub.waiting("undeclared") == []
    hub.publish([first(1)])
    assert len(sink.messages) == 1
    # Refused, not stuck: a subscribe now is answered at once.
    assert ask(session, sink, {"op": "subscribe", "feed": "undeclared"})["op"] == "subscribed"


def test_a_second_subscribe_while_held_is_already_subscribed_and_the_first_goes_on(
    hub: Hub, session: Session, sink: Sink
) -> None:
    session.receive('{"op": "subscribe", "feed": "undeclared", "format": "binary", "id": 1}')
    error = ask(session, sink, {"op": "subscribe", "feed": "undeclared", "id": 2})
    assert (error["code"], error["id"]) == ("already_subscribed", 2)
    assert error["message"] == "already subscribed to 'undeclared' (binary), waiting for its first sample"
    assert hub.waiting("undeclared") == [sink]
    hub.publish([first(1)])
    assert ops(sink)[1:] == [("subscribed", 1)]
    assert session.subscriptions == {"undeclared": Format.BINARY}


def test_unsubscribe_while_held_answers_both_and_cancels_the_wait(
    hub: Hub, session: Session, sink: Sink, clock: FakeClock
) -> None:
    session.receive('{"op": "subscribe", "feed": "undeclared", "id": "s"}')
    session.receive('{"op": "unsubscribe", "feed": "undeclared", "id": "u"}')
    assert sink.replies() == [
        {"op": "unsubscribed", "feed": "undeclared", "id": "s"},
        {"op": "unsubscribed", "feed": "undeclared", "id": "u"},
    ]
    assert session.waiting == {}
    assert hub.waiting("undeclared") == []
    assert clock.pending() == 0
    hub.publish([first(1)])
    clock.advance(WAIT)
    assert len(sink.messages) == 2
    assert ask(session, sink, {"op": "unsubscribe", "feed": "undeclared"})["code"] == "not_subscribed"


def test_closing_while_held_leaves_nothing_in_the_hub(hub: Hub, session: Session, sink: Sink, clock: FakeClock) -> None:
    session.receive('{"op": "subscribe", "feed": "undeclared"}')
    session.close()
    assert session.waiting == {}
    assert hub.waiting("undeclared") == []
    assert clock.pending() == 0
    hub.publish([first(1)])
    assert sink.messages == []


def test_a_held_subscribe_counts_against_the_subscription_limit(hub: Hub, sink: Sink) -> None:
    session = Session(Shared(hub, Settings(max_subscriptions=1)), sink)
    session.receive('{"op": "subscribe", "feed": "undeclared"}')
    error = ask(session, sink, {"op": "subscribe", "feed": "numbers", "id": 2})
    assert (error["code"], error["id"]) == ("too_many_subscriptions", 2)
    assert hub.subscriber_count("numbers") == 0


def test_a_fresh_token_without_the_role_ends_a_held_subscribe_as_forbidden(sink: Sink) -> None:
    class Private(Undeclared):
        name = "private"
        roles = ("ops",)

    authenticator = Authenticator("a secret of at least thirty-two bytes")
    hub = Hub([Private()], clock=FakeClock())
    identity = authenticator.verify(authenticator.mint("alice", ("ops",), 60))
    session = Session(Shared(hub, authenticator=authenticator), sink, identity)
    session.receive('{"op": "subscribe", "feed": "private", "id": "s"}')
    fresh = authenticator.mint("alice", ("viewer",), 60)
    session.receive(orjson.dumps({"op": "auth", "token": fresh, "id": "a"}).decode())
    assert ops(sink) == [("authed", "a"), ("unsubscribed", "s")]
    assert sink.replies()[1]["reason"] == "forbidden"
    assert session.waiting == {}
    assert hub.waiting("private") == []


def test_replays_are_charged_by_bytes_against_a_budget_that_refills(hub: Hub, sink: Sink) -> None:
    """The attack's shape: subscribe with the whole history, unsubscribe, again and again, reading fast. What the
    server sends is bounded by the replay budget and its refill, not by the 60 bytes of each subscribe."""
    for seq in range(100, 1100):  # seqs of three and four digits: binary frames of one size
        hub.publish([tick(seq)])
    size = len(hub.history("numbers").last(1)[0].binary)
    clock = FakeClock()
    budget = 250 * size
    session = Session(Shared(hub, Settings(replay_budget=budget), clock=clock.time), sink)
    replayed = []
    for _ in range(6):
        reply = ask(session, sink, {"op": "subscribe", "feed": "numbers", "format": "binary", "history": 1000})
        replayed.append((reply["replayed"], reply["gap"]))
        ask(session, sink, {"op": "unsubscribe", "feed": "numbers"})
    assert replayed == [(250, True)] + [(0, True)] * 5
    sent = sum(len(data) for data, _ in sink.messages if data[0] & 0x0F == 0x2)
    assert sent == budget
    clock.advance(6.0)  # a tenth of a minute: a tenth of the budget back
    reply = ask(session, sink, {"op": "subscribe", "feed": "numbers", "format": "binary", "history": 1000})
    assert (reply["replayed"], reply["gap"]) == (25, True)


def test_a_replay_within_the_budget_is_whole(hub: Hub, sink: Sink) -> None:
    for seq in range(1, 101):
        hub.publish([tick(seq)])
    Session(Shared(hub), sink).receive('{"op": "subscribe", "feed": "numbers", "history": 100}')
    reply, *replayed = sink.replies()
    assert (reply["replayed"], reply["gap"]) == (100, False)
    assert [data["seq"] for data in replayed] == list(range(1, 101))
