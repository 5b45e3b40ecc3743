"""The codes the server answers with: an ``error`` frame's `ErrorCode`, a Close frame's `CloseCode`.

Both are part of the protocol (docs/protocol.md) and never renamed; the session, the transport and the tests name
them from here.
"""

from __future__ import annotations

import enum

__all__ = ["CloseCode", "ErrorCode"]


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
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
    FORBIDDEN = "forbidden"
    UNAUTHORIZED = "unauthorized"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"


class CloseCode(enum.IntEnum):
    """The WebSocket close codes the server sends, by their RFC 6455 names (one name per code, so that a code
    prints as what it is); the reason that goes with each says which case it is. Documented in docs/protocol.md."""

    # 1001, "going away": the server is shutting down; reconnect (with backoff) to its successor.
    GOING_AWAY = 1001
    # 1002: the client broke RFC 6455's framing rules (an unmasked frame, reserved bits, an unknown opcode ...).
    PROTOCOL_ERROR = 1002
    # 1007: a text message (or a Close frame's reason) that is not UTF-8.
    INVALID_DATA = 1007
    # 1008, "policy violation": the client stopped reading (reason "slow consumer: ..."), or kept sending past its
    # rate limit ("rate limit exceeded"); the server will not hold its data or read its messages.
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    # 1011, "unexpected condition": the server failed to write to the connection ("internal error"), or the peer
    # stopped answering pings ("no answer to ping").
    INTERNAL_ERROR = 1011
    # 4001, the server's own: the connection's token expired (present a new one, or refresh it with "auth" before).
    TOKEN_EXPIRED = 4001
