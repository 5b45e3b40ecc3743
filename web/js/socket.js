/**
 * The page's WebSocket connection to /ws (docs/protocol.md): connects, reconnects by itself with exponential
 * backoff and full jitter, sends the client messages, and dispatches each server message to one handler.
 *
 * Handlers (all optional): open(session), close({code, opened}) where `code` is the close code and `opened` whether
 * the handshake had succeeded, tick(tick), subscribed({feed, fields, health, replayed}), unsubscribed({feed}),
 * status({feed, health}) where health is {status, failures, error}, feedAdded({feed}) when the server serves one more
 * feed (in a cluster, a machine that joined), error({code, message, request}) where `request`
 * is the message the error answers: named by its id, or (`rate_limited`) by its place in the order of replies.
 * `session` counts connections, so work started for one connection (a fetch) can tell that it has been replaced.
 * Each pong's time of the server goes to the connection's `clock` (clock.js).
 */

import { ServerClock } from "./clock.js";
import { decodeFrame, tickFromMessage } from "./data.js";
import { ErrorCode, Format, Op } from "./protocol.js";

export const BACKOFF_BASE_MS = 250;
export const BACKOFF_CAP_MS = 10_000;
// Enough doublings for the base to pass the cap; more would only grow a number nobody reads.
const BACKOFF_MAX_EXPONENT = Math.ceil(Math.log2(BACKOFF_CAP_MS / BACKOFF_BASE_MS));
// A browser cannot see the server's WebSocket pings, so a half-open connection (a sleeping laptop, a dropped NAT
// entry) is only noticed by an application ping that goes unanswered for a whole interval.
export const HEARTBEAT_INTERVAL_MS = 15_000;

/** A feed's health as the server reports it in /api/feeds, `subscribed` and `status`. */
export function healthOf(message) {
  return { status: message.status, failures: message.failures, error: message.error };
}

// What a browser reports when a connection ends without a Close frame, a refused handshake included.
const CLOSE_ABNORMAL = 1006;

/** Full jitter: a uniform delay between 0 and the exponential ceiling, so clients that lost one server together
 * do not come back to the next one together. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, BACKOFF_MAX_EXPONENT));
  return random() * ceiling;
}

/** The ws:// or wss:// URL of the endpoint on the server that served the page. */
export function socketUrl(location, path = "/ws") {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

export class FeedConnection {
  #url;
  #handlers;
  #clock;
  #socket = null;
  #session = 0;
  #attempt = 0;
  #retryTimer = null;
  #heartbeatTimer = null;
  #pingPending = false;
  #everOpened = false;
  #stopped = false;
  #nextId = 1;
  // Requests awaiting their reply, by id; emptied by replies and on every close, so it stays as small as the
  // number of feeds.
  #pending = new Map();
  // Field order of each JSON subscription, needed to turn a JSON tick into the same shape as a binary one.
  #jsonFields = new Map();
  #pingSentAt = 0; // performance.now() and Date.now() when the ping in flight went
  #pingSentWall = 0;

  /** `clock` (a ServerClock) learns the server's time from the pongs. */
  constructor(url, handlers, clock = new ServerClock()) {
    this.#url = url;
    this.#handlers = handlers;
    this.#clock = clock;
  }

  get session() {
    return this.#session;
  }

  /** The server's clock, as far as the pongs of this connection and the ones before tell. */
  get clock() {
    return this.#clock;
  }

  get isOpen() {
    return this.#socket !== null && this.#socket.readyState === WebSocket.OPEN;
  }

  start() {
    if (this.#socket === null && this.#retryTimer === null && !this.#stopped) {
      this.#connect();
    }
  }

  /** Subscribes to `feed` in binary; `start` may ask for held ticks first: `{history: N}` or `{since, run}`. */
  subscribe(feed, start = {}) {
    this.#request({ op: Op.SUBSCRIBE, feed, format: Format.BINARY, ...start });
  }

  unsubscribe(feed) {
    this.#request({ op: Op.UNSUBSCRIBE, feed });
  }

  /**
   * Gives up on connection `session` (it proved useless) and reconnects after the usual backoff. A stale session
   * is ignored, so late work for an old connection cannot close its successor.
   */
  drop(session = this.#session) {
    if (!this.isOpen || session !== this.#session) {
      return;
    }
    const socket = this.#socket;
    this.#detach(socket);
    socket.close();
    this.#closed();
  }

  #connect() {
    this.#retryTimer = null;
    const socket = new WebSocket(this.#url);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => this.#opened();
    socket.onmessage = (event) => this.#receive(event.data);
    // Every failure, refused handshake included, ends in a close event: errors need no handler of their own.
    socket.onclose = (event) => this.#closed(event.code);
    this.#socket = socket;
  }

  #opened() {
    this.#everOpened = true;
    this.#session++;
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(), HEARTBEAT_INTERVAL_MS);
    this.#heartbeat(); // at once, for the server's time
    this.#handlers.open?.(this.#session);
  }

  #closed(code = CLOSE_ABNORMAL) {
    if (this.#socket !== null) {
      this.#detach(this.#socket);
    }
    const opened = this.#everOpened;
    this.#everOpened = false;
    this.#socket = null;
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
    this.#pingPending = false;
    this.#pending.clear();
    this.#jsonFields.clear();
    this.#clock.restart();
    this.#handlers.close?.({ code, opened });
    if (this.#stopped) {
      return;
    }
    this.#retryTimer = setTimeout(() => this.#connect(), backoffDelay(this.#attempt));
    this.#attempt = Math.min(this.#attempt + 1, BACKOFF_MAX_EXPONENT);
  }

  /** Stops for good (the server will not let this page in): no more attempts until the page is loaded again. */
  stop() {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    if (this.#socket !== null) {
      const socket = this.#socket;
      this.#detach(socket);
      socket.close();
      this.#closed();
    }
  }

  #detach(socket) {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
  }

  #heartbeat() {
    if (this.#pingPending) {
      this.drop();
      return;
    }
    this.#pingPending = true;
    this.#pingSentAt = performance.now();
    this.#pingSentWall = Date.now();
    this.#request({ op: Op.PING });
  }

  #request(message) {
    if (!this.isOpen) {
      return;
    }
    const id = this.#nextId++;
    this.#pending.set(id, message);
    this.#socket.send(JSON.stringify({ ...message, id }));
  }

  #takeRequest(message) {
    let id = message.id;
    if (id === undefined && message.code === ErrorCode.RATE_LIMITED) {
      // A message the server did not read cannot be answered by its id. The server answers every message, in
      // order, so this one answers the oldest request still waiting.
      id = this.#pending.keys().next().value;
    }
    if (id === undefined) {
      return null;
    }
    const request = this.#pending.get(id) ?? null;
    this.#pending.delete(id);
    return request;
  }

  // Only a server that answers is worth staying patient with: the backoff resets on the first reply of a
  // connection, not on the handshake, so a server that accepts and then fails every request is not hammered.
  #healthy() {
    this.#attempt = 0;
  }

  #receive(data) {
    if (data instanceof ArrayBuffer) {
      this.#handlers.tick?.(decodeFrame(data));
      return;
    }
    this.#dispatch(JSON.parse(data));
  }

  #dispatch(message) {
    switch (message.op) {
      case Op.SUBSCRIBED:
        this.#takeRequest(message);
        this.#healthy();
        if (message.format !== Format.BINARY) {
          this.#jsonFields.set(message.feed, message.fields);
        }
        this.#handlers.subscribed?.({
          feed: message.feed,
          fields: message.fields,
          health: healthOf(message),
          replayed: message.replayed,
        });
        break;
      case Op.UNSUBSCRIBED:
        this.#takeRequest(message);
        this.#jsonFields.delete(message.feed);
        this.#handlers.unsubscribed?.({ feed: message.feed, reason: message.reason });
        break;
      case Op.PONG:
        this.#takeRequest(message);
        this.#healthy();
        this.#pingPending = false;
        this.#clock.sample(message.ts, this.#pingSentWall, performance.now() - this.#pingSentAt);
        break;
      case Op.DATA: {
        const fields = this.#jsonFields.get(message.feed);
        if (fields === undefined) {
          throw new Error(`json data for feed '${message.feed}', which has no json subscription`);
        }
        this.#handlers.tick?.(tickFromMessage(message, fields));
        break;
      }
      case Op.STATUS:
        this.#handlers.status?.({ feed: message.feed, health: healthOf(message) });
        break;
      case Op.FEED_ADDED:
        this.#handlers.feedAdded?.({ feed: message.feed });
        break;
      case Op.ERROR: {
        const request = this.#takeRequest(message);
        if (request?.op === Op.PING) {
          this.#pingPending = false; // refused for the rate, but answered: the server is there
          break;
        }
        this.#handlers.error?.({ code: message.code, message: message.message, request });
        break;
      }
      default:
        throw new Error(`unknown op ${JSON.stringify(message.op)} from the server`);
    }
  }
}
