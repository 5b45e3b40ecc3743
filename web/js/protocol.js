/**
 * The words of the WebSocket protocol (docs/protocol.md), as handlers/protocol.py defines them on the server: the
 * `op` of every message, the `code` of every error frame, the formats and the server's own close codes. Every other
 * module names them from here, never as a bare string.
 */

export const Op = Object.freeze({
  SUBSCRIBE: "subscribe",
  UNSUBSCRIBE: "unsubscribe",
  PING: "ping",
  SUBSCRIBED: "subscribed",
  UNSUBSCRIBED: "unsubscribed",
  PONG: "pong",
  DATA: "data",
  STATUS: "status",
  FEED_ADDED: "feed_added",
  ERROR: "error",
});

/** The `code` of an `error` frame; `forbidden` is also the `reason` of an `unsubscribed` the server sends itself. */
export const ErrorCode = Object.freeze({
  INVALID_JSON: "invalid_json",
  NOT_AN_OBJECT: "not_an_object",
  MISSING_OP: "missing_op",
  UNKNOWN_OP: "unknown_op",
  INVALID_MESSAGE: "invalid_message",
  UNKNOWN_FEED: "unknown_feed",
  // The feed has not produced its first sample, so its fields are not known yet: try again in a moment.
  FEED_NOT_READY: "feed_not_ready",
  UNKNOWN_FORMAT: "unknown_format",
  ALREADY_SUBSCRIBED: "already_subscribed",
  NOT_SUBSCRIBED: "not_subscribed",
  BINARY_NOT_SUPPORTED: "binary_not_supported",
  TOO_MANY_SUBSCRIPTIONS: "too_many_subscriptions",
  FORBIDDEN: "forbidden",
  UNAUTHORIZED: "unauthorized",
  // A message the server did not read: the connection sent faster than the server allows. It carries no `id`.
  RATE_LIMITED: "rate_limited",
  INTERNAL_ERROR: "internal_error",
});

export const Format = Object.freeze({
  JSON: "json",
  BINARY: "binary",
});

/** The server's own close codes, past the standard ones. */
export const CloseCode = Object.freeze({
  // The connection's token expired: a new one is needed, reconnecting with the old one cannot help.
  TOKEN_EXPIRED: 4001,
});
