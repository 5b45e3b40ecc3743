"""The WebSocket protocol's client side, read: parsing client messages, and the error codes (docs/protocol.md).

Parsing is pure: text in, a `Request` or a `ProtocolError` out. Whether a feed exists or a connection is already
subscribed is the session's business (`handlers.session`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson

from feeds.codec import Format

__all__ = ["CloseCode", "ErrorCode", "Op", "ProtocolError", "Request", "encode_message", "parse_request"]


class Op(str, enum.Enum):
    """The operations a client may ask for."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    PING = "ping"


class ErrorCode(str, enum.Enum):
    """The ``code`` of an ``error`` frame. Documented in docs/protocol.md; never rename one."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_OP = "missing_op"
    UNKNOWN_OP = "unknown_op"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_FEED = "unknown_feed"
    FEED_NOT_READY = "feed_not_ready"
    UNKNOWN_FORMAT = "unknown_format"
    ALREADY_SUBSCRIBED = "already_subscribed"
    NOT_SUBSCRIBED = "not_subscribed"
    BINARY_NOT_SUPPORTED = "binary_not_supported"
    INTERNAL_ERROR = "internal_error"


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server uses. Documented in docs/protocol.md."""

    # 1002: the client broke RFC 6455's framing rules (an unmasked frame, reserved bits, an unknown opcode ...).
    PROTOCOL_ERROR = 1002
    # 1007: a text message (or a Close frame's reason) that is not UTF-8.
    INVALID_DATA = 1007
    MESSAGE_TOO_BIG = 1009
    # 1011, "unexpected condition": the server failed to write to the connection.
    INTERNAL_ERROR = 1011
    # 1011 too: the peer stopped answering pings (an alias of INTERNAL_ERROR, for the keepalive's readers).
    NO_PONG = 1011
    # 1008, "policy violation": the client stopped reading, and the server will not hold its data for it.
    SLOW_CONSUMER = 1008


# The keys each op accepts; anything else is refused so that typos are reported, not ignored.
ALLOWED_KEYS = {
    Op.SUBSCRIBE: frozenset({"op", "feed", "format", "id"}),
    Op.UNSUBSCRIBE: frozenset({"op", "feed", "id"}),
    Op.PING: frozenset({"op", "id"}),
}
OPS = ", ".join(op.value for op in Op)
FORMATS = ", ".join(fmt.value for fmt in Format)


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


def encode_message(op: str, request: dict[str, Any], **fields: Any) -> bytes:
    """A server message as JSON bytes, echoing the request's ``id`` when it had one."""
    message = {"op": op, **fields}
    if "id" in request:
        message["id"] = request["id"]
    return orjson.dumps(message)


def parse_request(text: str) -> Request:
    """Read one client text frame, or raise `ProtocolError` saying what is wrong with it."""
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.NOT_AN_OBJECT, f"expected a JSON object, got {type(raw).__name__}")
    if "op" not in raw:
        raise ProtocolError(ErrorCode.MISSING_OP, f"missing 'op' (one of: {OPS})", raw)
    try:
        op = Op(raw["op"])
    except (ValueError, TypeError):
        raise ProtocolError(ErrorCode.UNKNOWN_OP, f"unknown op {raw['op']!r} (one of: {OPS})", raw) from None
    unexpected = sorted(set(raw) - ALLOWED_KEYS[op])
    if unexpected:
        allowed = ", ".join(sorted(ALLOWED_KEYS[op] - {"op"}))
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, f"unexpected key {unexpected[0]!r} in {op.value} (allowed: {allowed})", raw
        )
    if op is Op.PING:
        return Request(op, raw)
    feed = raw.get("feed")
    if not isinstance(feed, str):
        problem = "missing 'feed'" if feed is None else f"'feed' must be a string, got {type(feed).__name__}"
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"{problem} in {op.value}", raw)
    fmt = raw.get("format", Format.JSON.value)
    try:
        return Request(op, raw, feed, Format(fmt))
    except (ValueError, TypeError):
        raise ProtocolError(ErrorCode.UNKNOWN_FORMAT, f"unknown format {fmt!r} (one of: {FORMATS})", raw) from None
