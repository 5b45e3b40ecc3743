"""Client messages, read: each op's declared schema, and the parsing of a message against it (docs/protocol.md).

Parsing is pure: text in, a `Request` or a `ProtocolError` out. Whether a feed exists or a connection is already
subscribed is the session's business (`handlers.protocol.session`); the codes an error or a close carries are in
`handlers.protocol.codes`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from feeds.codec import Format
from feeds.feed import MAX_HOST_FEED_NAME
from handlers.security.auth import MAX_TOKEN_CHARS

from .codes import ErrorCode

__all__ = ["Op", "ProtocolError", "Request", "encode_message", "parse_request"]


class Op(str, enum.Enum):
    """The operations a client may ask for."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    PING = "ping"
    AUTH = "auth"


OPS = ", ".join(op.value for op in Op)
FORMATS = ", ".join(fmt.value for fmt in Format)
FORMAT_VALUES = frozenset(fmt.value for fmt in Format)
MAX_FEED_NAME = MAX_HOST_FEED_NAME  # a per-host feed's NAME@NODE, 32 + 1 + 63
MAX_ID_CHARS = 256
MAX_ID_NUMBER = 2**53  # what a JSON number holds exactly
# The longest client value an error message quotes: an error is never much bigger than a line.
MAX_QUOTED = 80
MAX_RUN = 2**32 - 1  # runs are 32-bit (see the binary frame's header)
MAX_SEQ = 2**53  # what a JSON number holds exactly
JSON_TYPES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "an object",
}


class ProtocolError(Exception):
    """A client message that is refused; becomes an ``error`` frame carrying the request's id if it had one."""

    def __init__(self, code: ErrorCode, message: str, request: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request = request or {}

    def to_message(self) -> bytes:
        return encode_message("error", self.request, code=self.code.value, message=self.message)


@dataclass(frozen=True)
class Request:
    """A well-formed client message. ``raw`` is the decoded object, kept to echo its ``id``."""

    op: Op
    raw: dict[str, Any]
    feed: str = ""
    format: Format = Format.JSON
    token: str = ""
    history: int | None = None  # subscribe: start with the feed's last N held ticks
    since: int | None = None  # subscribe: start with every held tick after this seq ...
    run: int | None = None  # ... of this run (the current one when None)


def encode_message(op: str, request: dict[str, Any], **fields: Any) -> bytes:
    """A server message as JSON bytes, echoing the request's ``id`` when it had one."""
    message = {"op": op, **fields}
    if "id" in request:
        message["id"] = request["id"]
    return orjson.dumps(message)


@dataclass(frozen=True)
class Key:
    """One key a client message may carry: its JSON types (none: any value), whether it must be there, a check of
    its value (returning the error message saying what is wrong with it, or None), and the error's code."""

    types: tuple[type, ...] = ()
    required: bool = False
    check: Callable[[Any], str | None] | None = None
    code: ErrorCode = ErrorCode.INVALID_MESSAGE


def _feed_name(value: str) -> str | None:
    return f"'feed' is longer than {MAX_FEED_NAME} characters" if len(value) > MAX_FEED_NAME else None


def _token(value: str) -> str | None:
    return f"'token' is longer than {MAX_TOKEN_CHARS} characters" if len(value) > MAX_TOKEN_CHARS else None


def _count(name: str, most: int) -> Callable[[Any], str | None]:
    def check(value: int) -> str | None:
        return None if 0 <= value <= most else f"'{name}' must be from 0 to {most}, got {value}"

    return check


def _format(value: Any) -> str | None:
    known = isinstance(value, str) and value in FORMAT_VALUES
    return None if known else f"unknown format {_quoted(value)} (one of: {FORMATS})"


def _quoted(value: Any) -> str:
    """A client's value in an error message: a string or a number, cut to MAX_QUOTED characters, or its type (the
    repr of a list or an object of thousands of elements would cost as much as the message to build)."""
    if isinstance(value, str):
        return repr(value[:MAX_QUOTED])[:MAX_QUOTED]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)[:MAX_QUOTED]
    return f"({JSON_TYPES.get(type(value), type(value).__name__)})"


ID_RULE = f"'id' must be a number or a string of at most {MAX_ID_CHARS} characters"
# A client message is one object whose values are numbers and strings: the most '[' and '{' a valid one holds are
# its own brace and whatever its id and feed name (strings) spell.
MAX_BRACKETS = 1 + MAX_ID_CHARS + MAX_FEED_NAME
NESTED_RULE = f"a message is one JSON object of numbers and strings: more than {MAX_BRACKETS} '[' and '{{' in it"


def _valid_id(value: Any) -> bool:
    """Whether ``value`` may be an id: a scalar whose echo costs a reply next to nothing, checked in O(1)."""
    kind = type(value)
    if kind is str:
        return len(value) <= MAX_ID_CHARS
    if kind is int:
        return bool(-MAX_ID_NUMBER <= value <= MAX_ID_NUMBER)
    return kind is float and bool(math.isfinite(value))


# Every op's keys, declared: a message is checked against its op's before anything acts on it. A key not listed is
# refused, so that a typo such as "fromat" is reported rather than ignored. The id is checked before anything else
# (parse_request), so that no reply ever echoes one that is not a bounded scalar.
ID = Key()
FEED = Key((str,), required=True, check=_feed_name)
SCHEMAS: dict[Op, dict[str, Key]] = {
    Op.SUBSCRIBE: {
        "feed": FEED,
        "format": Key(check=_format, code=ErrorCode.UNKNOWN_FORMAT),
        "history": Key((int,), check=_count("history", MAX_SEQ)),
        "since": Key((int,), check=_count("since", MAX_SEQ)),
        "run": Key((int,), check=_count("run", MAX_RUN)),
        "id": ID,
    },
    Op.UNSUBSCRIBE: {"feed": FEED, "id": ID},
    Op.PING: {"id": ID},
    Op.AUTH: {"token": Key((str,), required=True, check=_token), "id": ID},
}


def _check_keys(op: Op, raw: dict[str, Any]) -> None:
    schema = SCHEMAS[op]
    # The first key the schema does not list: found among the first len(schema) + 2 keys if there is one, so the
    # cost does not grow with a message of thousands of keys.
    unexpected = next((key for key in raw if key != "op" and key not in schema), None)
    if unexpected is not None:
        allowed = ", ".join(sorted(schema))
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE,
            f"unexpected key {_quoted(unexpected)} in {op.value} (allowed: {allowed})",
            raw,
        )
    for name, key in schema.items():
        if name not in raw:
            if key.required:
                raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"missing {name!r} in {op.value}", raw)
            continue
        value = raw[name]
        if key.types and (not isinstance(value, key.types) or (isinstance(value, bool) and bool not in key.types)):
            expected = " or ".join(JSON_TYPES[kind] for kind in key.types)
            raise ProtocolError(
                ErrorCode.INVALID_MESSAGE,
                f"{name!r} must be {expected}, got {type(value).__name__} in {op.value}",
                raw,
            )
        problem = key.check(value) if key.check is not None else None
        if problem is not None:
            raise ProtocolError(key.code, problem, raw)


def parse_request(text: str) -> Request:
    """Read one client text frame, or raise `ProtocolError` saying what is wrong with it."""
    # Counted before anything is built: 21,800 empty lists in 64 KiB cost 4 ms to build and collect, and nothing in
    # a valid message needs more than the brackets its strings may hold.
    if text.count("[") + text.count("{") > MAX_BRACKETS:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, NESTED_RULE)
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.NOT_AN_OBJECT, f"expected a JSON object, got {type(raw).__name__}")
    if "id" in raw and not _valid_id(raw["id"]):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, ID_RULE)  # answered without it: it cannot be echoed
    if "op" not in raw:
        raise ProtocolError(ErrorCode.MISSING_OP, f"missing 'op' (one of: {OPS})", raw)
    try:
        op = Op(raw["op"])
    except (ValueError, TypeError):
        raise ProtocolError(ErrorCode.UNKNOWN_OP, f"unknown op {_quoted(raw['op'])} (one of: {OPS})", raw) from None
    _check_keys(op, raw)
    if "history" in raw and "since" in raw:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "give 'history' or 'since' in subscribe, not both", raw)
    if "run" in raw and "since" not in raw:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "'run' goes with 'since' in subscribe", raw)
    return Request(
        op,
        raw,
        raw.get("feed", ""),
        Format(raw.get("format", Format.JSON.value)),
        raw.get("token", ""),
        raw.get("history"),
        raw.get("since"),
        raw.get("run"),
    )
