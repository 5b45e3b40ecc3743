"""handlers.protocol.messages: parsing client messages, text in, a Request or a ProtocolError out, no socket."""

from __future__ import annotations

import orjson
import pytest

from feeds.codec import Format
from feeds.feed import MAX_NODE_NAME, host_feed_name
from handlers.protocol.codes import ErrorCode
from handlers.protocol.messages import MAX_FEED_NAME, Op, ProtocolError, parse_request


def test_requests_are_read_with_their_defaults() -> None:
    subscribe = parse_request('{"op": "subscribe", "feed": "stocks", "id": 9}')
    assert (subscribe.op, subscribe.feed, subscribe.format, subscribe.raw["id"]) == (
        Op.SUBSCRIBE,
        "stocks",
        Format.JSON,
        9,
    )
    assert parse_request('{"op": "subscribe", "feed": "stocks", "format": "binary"}').format is Format.BINARY
    assert parse_request('{"op": "unsubscribe", "feed": "system"}').op is Op.UNSUBSCRIBE
    assert parse_request('{"op": "ping"}').op is Op.PING


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("{nope", ErrorCode.INVALID_JSON, "invalid JSON: "),
        ("[1, 2]", ErrorCode.NOT_AN_OBJECT, "expected a JSON object, got list"),
        ('{"feed": "stocks"}', ErrorCode.MISSING_OP, "missing 'op' (one of: subscribe, unsubscribe, ping, auth)"),
        ('{"op": "sub"}', ErrorCode.UNKNOWN_OP, "unknown op 'sub' (one of: subscribe, unsubscribe, ping, auth)"),
        ('{"op": ["ping"]}', ErrorCode.UNKNOWN_OP, "unknown op (a list)"),
        ('{"op": "ping", "feed": "x"}', ErrorCode.INVALID_MESSAGE, "unexpected key 'feed' in ping (allowed: id)"),
        ('{"op": "subscribe"}', ErrorCode.INVALID_MESSAGE, "missing 'feed' in subscribe"),
        ('{"op": "unsubscribe", "feed": 3}', ErrorCode.INVALID_MESSAGE, "'feed' must be a string, got int"),
        ('{"op": "subscribe", "feed": "a", "format": "xml"}', ErrorCode.UNKNOWN_FORMAT, "unknown format 'xml'"),
        ('{"op": "ping", "id": [1]}', ErrorCode.INVALID_MESSAGE, "'id' must be a number or a string of at most 256"),
        ('{"op": "ping", "id": {"a": 1}}', ErrorCode.INVALID_MESSAGE, "'id' must be a number or a string"),
        ('{"op": "ping", "id": true}', ErrorCode.INVALID_MESSAGE, "'id' must be a number or a string"),
        ('{"op": "ping", "id": null}', ErrorCode.INVALID_MESSAGE, "'id' must be a number or a string"),
        ('{"op": "ping", "id": "' + "i" * 257 + '"}', ErrorCode.INVALID_MESSAGE, "'id' must be a number or a string"),
        ('{"op": "ping", "id": 9007199254740993}', ErrorCode.INVALID_MESSAGE, "'id' must be a number or a string"),
        ('{"op": "' + "x" * 5000 + '"}', ErrorCode.UNKNOWN_OP, "unknown op 'xxxxxxxx"),
    ],
)
def test_a_malformed_message_is_a_protocol_error_saying_what_is_wrong(text: str, code: ErrorCode, message: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_request(text)
    assert refused.value.code is code
    assert refused.value.message.startswith(message)


def test_an_error_echoes_the_id_of_a_request_it_could_read() -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_request('{"op": "subscribe", "id": "s1"}')
    assert orjson.loads(refused.value.to_message()) == {
        "op": "error",
        "code": "invalid_message",
        "message": "missing 'feed' in subscribe",
        "id": "s1",
    }


def test_an_error_quotes_at_most_a_line_of_what_it_refuses() -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_request(orjson.dumps({"op": "\u0085" * 30_000}).decode())
    assert len(refused.value.to_message()) < 400


@pytest.mark.parametrize("value", [7, -7, 2.5, "", "s1", "i" * 256, 2**53])
def test_an_id_is_a_number_or_a_short_string(value: object) -> None:
    assert parse_request(orjson.dumps({"op": "ping", "id": value}).decode()).raw["id"] == value


@pytest.mark.parametrize(
    "text",
    [
        # The red-team pass's shapes: 21,800 empty lists, 32k zeros, thousands of keys, each within 64 KiB.
        '{"op": "ping", "id": [' + ",".join(["[]"] * 21_800) + "]}",
        '{"op": "ping", "id": [' + ",".join(["0"] * 32_000) + "]}",
        '{"op": "subscribe", "feed": "x", "id": [' + ",".join(["[]"] * 21_800) + "]}",
        "{" + ",".join(f'"k{index}": 0' for index in range(6_000)) + ', "op": "ping"}',
        '{"op": [' + ",".join(["[]"] * 21_800) + "]}",
    ],
)
def test_an_attacker_shaped_message_is_refused_without_echo_and_in_a_line(text: str) -> None:
    """Nothing in a refusal grows with the message: no id echoed unless it is a bounded scalar, no value quoted
    whole. (What checking such a message costs is measured in the bench, not asserted here.)"""
    with pytest.raises(ProtocolError) as refused:
        parse_request(text)
    reply = refused.value.to_message()
    assert len(reply) < 400
    assert b'"id"' not in reply


def test_a_message_with_more_brackets_than_any_valid_one_is_refused_before_it_is_parsed() -> None:
    """21,800 empty lists cost 4 ms to build and collect; the brackets are counted first, and no valid message
    has that many (an id and a feed name full of them still pass)."""
    with pytest.raises(ProtocolError) as refused:
        parse_request('{"op": "ping", "id": [' + ",".join(["[]"] * 21_800) + "]}")
    assert refused.value.code is ErrorCode.INVALID_MESSAGE
    assert refused.value.message.startswith("a message is one JSON object of numbers and strings: more than 353")
    feed = "[" * MAX_FEED_NAME
    bracketed = parse_request(orjson.dumps({"op": "subscribe", "feed": feed, "id": "{" * 256}).decode())
    assert (bracketed.feed, bracketed.raw["id"]) == (feed, "{" * 256)


def test_a_per_host_feed_name_is_a_feed_name_and_one_character_more_is_refused() -> None:
    """The longest NAME@NODE: a 32-character feed name on a 63-character node name."""
    longest = host_feed_name("f" * 32, "n" * MAX_NODE_NAME)
    assert len(longest) == MAX_FEED_NAME == 96
    assert parse_request(orjson.dumps({"op": "subscribe", "feed": longest}).decode()).feed == longest
    assert parse_request('{"op": "unsubscribe", "feed": "system@node-1.example"}').feed == "system@node-1.example"
    with pytest.raises(ProtocolError) as refused:
        parse_request(orjson.dumps({"op": "subscribe", "feed": longest + "n"}).decode())
    assert (refused.value.code, refused.value.message) == (
        ErrorCode.INVALID_MESSAGE,
        "'feed' is longer than 96 characters",
    )
