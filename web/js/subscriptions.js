/**
 * Each feed's subscription on the page's connection, as a state machine with no DOM and no socket: it decides when a
 * feed's subscribe and unsubscribe go (through `send`), and what the server's replies and refusals mean for it.
 *
 * A feed is `unsubscribed` (nothing asked, or its subscription ended), `subscribing` (a subscribe on its way, maybe
 * behind an unsubscribe), `subscribed` (confirmed: its ticks are taken), `retry-waiting` (the server did not read
 * one of its requests, `rate_limited`: they go again after a backoff that doubles at each refusal in a row, with
 * jitter) or `not-ready` (it has not produced its first sample, so its fields are unknown: the feed list is fetched
 * again after a wait that doubles at each `feed_not_ready` in a row, up to a cap, until the feed is confirmed). A feed
 * has one retry at a time however many refusals arrive; a refused unsubscribe goes again with the subscribe that
 * followed it. The timer and random functions are injected, so tests can drive them.
 */

import { ErrorCode, Op } from "./protocol.js";

export const SubscriptionState = Object.freeze({
  UNSUBSCRIBED: "unsubscribed",
  SUBSCRIBING: "subscribing",
  SUBSCRIBED: "subscribed",
  RETRY_WAITING: "retry-waiting",
  NOT_READY: "not-ready",
});

// A request the server did not read is sent again after this, doubled at each refusal in a row (up to the cap), so
// that the server's budget has time to refill; the jitter keeps pages refused together from coming back together.
export const RETRY_BASE_MS = 1000;
export const RETRY_CAP_MS = 10_000;
export const RETRY_JITTER = 0.5;
// How long a feed that has not produced its first sample is left before the page looks again: doubled at each
// `feed_not_ready` in a row, up to the cap (a feed that fails for hours costs a feed list a minute).
export const NOT_READY_RETRY_MS = 2000;
export const NOT_READY_CAP_MS = 60_000;

/** The wait before the retry that follows `refusals` earlier refusals in a row: the backoff, plus up to half again. */
export function retryDelay(refusals, random = Math.random) {
  const backoff = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** refusals);
  return backoff * (1 + random() * RETRY_JITTER);
}

/** The wait before looking again at a feed after `refusals` earlier `feed_not_ready` in a row, plus up to half again. */
export function notReadyDelay(refusals, random = Math.random) {
  const backoff = Math.min(NOT_READY_CAP_MS, NOT_READY_RETRY_MS * 2 ** refusals);
  return backoff * (1 + random() * RETRY_JITTER);
}

export class Subscriptions {
  #send;
  #reload;
  #setTimeout;
  #clearTimeout;
  #random;
  // Per feed name: { state, refusals (rate_limited in a row), notReady (feed_not_ready in a row), resendUnsubscribe,
  // timer }. Only feeds the page has
  // asked about are here; any other is unsubscribed.
  #feeds = new Map();

  /**
   * `send.subscribe(feed)` and `send.unsubscribe(feed)` put a request on the connection; `reload()` fetches the feed
   * list again and subscribes the feeds that are unsubscribed (with `subscribe`), once a feed that was not ready may
   * be. The timer functions default to the global ones, `random` to Math.random.
   */
  constructor({
    send,
    reload,
    setTimeout = (callback, delay) => globalThis.setTimeout(callback, delay),
    clearTimeout = (timer) => globalThis.clearTimeout(timer),
    random = Math.random,
  }) {
    this.#send = send;
    this.#reload = reload;
    this.#setTimeout = setTimeout;
    this.#clearTimeout = clearTimeout;
    this.#random = random;
  }

  stateOf(feed) {
    return this.#feeds.get(feed)?.state ?? SubscriptionState.UNSUBSCRIBED;
  }

  /** Whether `feed`'s ticks are taken: its subscription is confirmed (and not being replaced). */
  isSubscribed(feed) {
    return this.stateOf(feed) === SubscriptionState.SUBSCRIBED;
  }

  /** Whether a subscribe of `feed` is on its way, or will go again: its reply settles the feed. */
  isPending(feed) {
    const state = this.stateOf(feed);
    return state === SubscriptionState.SUBSCRIBING || state === SubscriptionState.RETRY_WAITING;
  }

  /** Subscribes `feed` if it is unsubscribed; a feed subscribed, on its way or waiting for a retry is left alone. */
  subscribe(feed) {
    const entry = this.#entry(feed);
    if (entry.state !== SubscriptionState.UNSUBSCRIBED) {
      return;
    }
    entry.state = SubscriptionState.SUBSCRIBING;
    this.#send.subscribe(feed);
  }

  /**
   * Replaces `feed`'s subscription (to start again with another window's history): an unsubscribe, then a
   * subscribe. Its ticks are not taken until the new one is confirmed. A retry waiting is replaced by this one.
   */
  resubscribe(feed) {
    const entry = this.#entry(feed);
    this.#cancelTimer(entry);
    entry.resendUnsubscribe = false;
    entry.state = SubscriptionState.SUBSCRIBING;
    this.#send.unsubscribe(feed);
    this.#send.subscribe(feed);
  }

  /** Gives up on `feed` (its fields are not what the page expects): unsubscribes, and forgets any retry. */
  unsubscribe(feed) {
    const entry = this.#entry(feed);
    this.#settle(entry);
    entry.state = SubscriptionState.UNSUBSCRIBED;
    this.#send.unsubscribe(feed);
  }

  /** The server confirmed a subscription of `feed`: its ticks are taken from now on, and its refusals forgotten. */
  confirmed(feed) {
    const entry = this.#entry(feed);
    this.#settle(entry);
    entry.notReady = 0;
    entry.state = SubscriptionState.SUBSCRIBED;
  }

  /**
   * The server says `feed` is unsubscribed. Returns whether that ended its subscription: false when it answers an
   * unsubscribe the page sent on its way to subscribing again.
   */
  unsubscribed(feed) {
    const entry = this.#feeds.get(feed);
    if (entry === undefined) {
      return true;
    }
    if (this.isPending(feed)) {
      return false;
    }
    if (entry.state === SubscriptionState.SUBSCRIBED) {
      entry.state = SubscriptionState.UNSUBSCRIBED;
    }
    return true;
  }

  /**
   * The server refused a request (`op`, a subscribe or an unsubscribe) about `feed` with error `code`. Returns
   * whether the refusal is taken care of here (a retry, or a wait for the feed's first sample); false for a fault
   * the page should show, after which the feed is unsubscribed (unless a subscription was confirmed meanwhile).
   */
  refused(feed, code, op) {
    const entry = this.#entry(feed);
    switch (code) {
      case ErrorCode.RATE_LIMITED:
        this.#retryLater(entry, feed, op === Op.UNSUBSCRIBE);
        return true;
      case ErrorCode.ALREADY_SUBSCRIBED:
        if (entry.refusals > 0) {
          return true; // the subscribe behind an unsubscribe the server did not read: the retry sends both again
        }
        break;
      case ErrorCode.FEED_NOT_READY:
        if (entry.state === SubscriptionState.NOT_READY && entry.timer !== null) {
          return true; // one wait at a time: a second answer does not start another
        }
        this.#settle(entry);
        entry.state = SubscriptionState.NOT_READY;
        entry.timer = this.#setTimeout(
          () => this.#notReadyDue(entry, feed),
          notReadyDelay(entry.notReady++, this.#random),
        );
        return true;
      default:
        break;
    }
    this.#settle(entry);
    if (entry.state !== SubscriptionState.SUBSCRIBED) {
      entry.state = SubscriptionState.UNSUBSCRIBED;
    }
    return false;
  }

  /** `feed` is gone from the page: its state and any retry are forgotten. */
  forget(feed) {
    const entry = this.#feeds.get(feed);
    if (entry !== undefined) {
      this.#cancelTimer(entry);
      this.#feeds.delete(feed);
    }
  }

  /** The connection closed (or the page gave up on it): every feed is unsubscribed, every retry dropped. */
  clear() {
    for (const entry of this.#feeds.values()) {
      this.#cancelTimer(entry);
    }
    this.#feeds.clear();
  }

  #entry(feed) {
    let entry = this.#feeds.get(feed);
    if (entry === undefined) {
      entry = {
        state: SubscriptionState.UNSUBSCRIBED,
        refusals: 0,
        notReady: 0,
        resendUnsubscribe: false,
        timer: null,
      };
      this.#feeds.set(feed, entry);
    }
    return entry;
  }

  /**
   * The server did not read one of `feed`'s requests (it was sent too fast): after the backoff the subscribe goes
   * again, and the unsubscribe before it if that was the one refused (the server then refused the subscribe too, as
   * `already_subscribed`). A later refusal before the retry replaces its timer, with a longer wait.
   */
  #retryLater(entry, feed, unsubscribe) {
    this.#cancelTimer(entry);
    entry.resendUnsubscribe ||= unsubscribe;
    entry.state = SubscriptionState.RETRY_WAITING;
    entry.timer = this.#setTimeout(() => this.#retryDue(entry, feed), retryDelay(entry.refusals, this.#random));
    entry.refusals++;
  }

  #retryDue(entry, feed) {
    entry.timer = null;
    if (this.#feeds.get(feed) !== entry) {
      return; // forgotten meanwhile: a new panel or a new connection subscribes afresh
    }
    entry.state = SubscriptionState.SUBSCRIBING;
    if (entry.resendUnsubscribe) {
      entry.resendUnsubscribe = false;
      this.#send.unsubscribe(feed);
    }
    this.#send.subscribe(feed);
  }

  #notReadyDue(entry, feed) {
    entry.timer = null;
    if (this.#feeds.get(feed) !== entry) {
      return;
    }
    entry.state = SubscriptionState.UNSUBSCRIBED;
    this.#reload();
  }

  /** Ends any retry of `entry`: its timer, its count of refusals, an unsubscribe to send again. */
  #settle(entry) {
    this.#cancelTimer(entry);
    entry.refusals = 0;
    entry.resendUnsubscribe = false;
  }

  #cancelTimer(entry) {
    if (entry.timer !== null) {
      this.#clearTimeout(entry.timer);
      entry.timer = null;
    }
  }
}
