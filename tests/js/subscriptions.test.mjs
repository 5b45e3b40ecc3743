// Unit tests of web/js/subscriptions.js: each feed's subscription state machine, with fake timers and randomness.
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import { ErrorCode, Op } from "../../web/js/protocol.js";
import {
  NOT_READY_CAP_MS,
  NOT_READY_RETRY_MS,
  RETRY_BASE_MS,
  RETRY_CAP_MS,
  RETRY_JITTER,
  SubscriptionState,
  Subscriptions,
  retryDelay,
} from "../../web/js/subscriptions.js";

/** Timers that run only when the test says so, in the order they are due. */
class FakeTimers {
  now = 0;
  #next = 1;
  #pending = new Map(); // id -> { due, callback }

  setTimeout = (callback, delay) => {
    const id = this.#next++;
    this.#pending.set(id, { due: this.now + delay, callback });
    return id;
  };

  clearTimeout = (id) => {
    this.#pending.delete(id);
  };

  /** The delays of the timers pending, from now, soonest first. */
  get delays() {
    return [...this.#pending.values()].map(({ due }) => due - this.now).sort((a, b) => a - b);
  }

  /** Moves the clock on by `ms`, running every timer that falls due on the way. */
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.#pending.entries()].filter(([, timer]) => timer.due <= end);
      if (due.length === 0) {
        break;
      }
      const [id, timer] = due.reduce((soonest, each) => (each[1].due < soonest[1].due ? each : soonest));
      this.#pending.delete(id);
      this.now = timer.due;
      timer.callback();
    }
    this.now = end;
  }
}

let timers;
let sent;
let reloads;
let randomValue;

function subscriptions() {
  return new Subscriptions({
    send: {
      subscribe: (feed) => sent.push([Op.SUBSCRIBE, feed]),
      unsubscribe: (feed) => sent.push([Op.UNSUBSCRIBE, feed]),
    },
    reload: () => reloads++,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    random: () => randomValue,
  });
}

/** What was sent since the last call. */
function drain() {
  return sent.splice(0);
}

beforeEach(() => {
  timers = new FakeTimers();
  sent = [];
  reloads = 0;
  randomValue = 0;
});

describe("retryDelay", () => {
  test("doubles from the base at each refusal in a row, up to the cap", () => {
    const delays = [0, 1, 2, 3, 4, 5, 10, 100].map((refusals) => retryDelay(refusals, () => 0));
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000]);
    assert.equal(RETRY_BASE_MS, 1000);
    assert.equal(RETRY_CAP_MS, 10_000);
  });

  test("adds a jitter of up to half the backoff again, never less than the backoff", () => {
    for (const refusals of [0, 2, 7]) {
      const backoff = retryDelay(refusals, () => 0);
      assert.equal(
        retryDelay(refusals, () => 0.5),
        backoff * (1 + 0.5 * RETRY_JITTER),
      );
      // Math.random() is below 1: the delay stays below the backoff plus the whole jitter.
      assert.ok(retryDelay(refusals, () => 0.999999) < backoff * (1 + RETRY_JITTER));
      for (let sample = 0; sample < 100; sample++) {
        const delay = retryDelay(refusals);
        assert.ok(delay >= backoff && delay < backoff * (1 + RETRY_JITTER), `${delay} for ${refusals}`);
      }
    }
  });
});

describe("Subscriptions", () => {
  test("a feed it never heard of is unsubscribed", () => {
    const feeds = subscriptions();
    assert.equal(feeds.stateOf("system"), SubscriptionState.UNSUBSCRIBED);
    assert.equal(feeds.isSubscribed("system"), false);
    assert.equal(feeds.isPending("system"), false);
  });

  test("subscribe sends a subscribe, and its confirmation makes the feed subscribed", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    assert.deepEqual(drain(), [[Op.SUBSCRIBE, "system"]]);
    assert.equal(feeds.stateOf("system"), SubscriptionState.SUBSCRIBING);
    assert.equal(feeds.isPending("system"), true);
    assert.equal(feeds.isSubscribed("system"), false);
    feeds.confirmed("system");
    assert.equal(feeds.stateOf("system"), SubscriptionState.SUBSCRIBED);
    assert.equal(feeds.isSubscribed("system"), true);
    assert.equal(feeds.isPending("system"), false);
  });

  test("subscribe leaves a feed on its way, subscribed or waiting alone", () => {
    const feeds = subscriptions();
    feeds.subscribe("a");
    feeds.subscribe("a");
    feeds.subscribe("b");
    feeds.confirmed("b");
    feeds.subscribe("b");
    feeds.subscribe("c");
    feeds.refused("c", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    feeds.subscribe("c");
    feeds.subscribe("d");
    feeds.refused("d", ErrorCode.FEED_NOT_READY, Op.SUBSCRIBE);
    feeds.subscribe("d");
    assert.deepEqual(drain(), [
      [Op.SUBSCRIBE, "a"],
      [Op.SUBSCRIBE, "b"],
      [Op.SUBSCRIBE, "c"],
      [Op.SUBSCRIBE, "d"],
    ]);
  });

  test("resubscribe sends an unsubscribe then a subscribe, and the ticks stop until the confirmation", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    feeds.confirmed("system");
    drain();
    feeds.resubscribe("system");
    assert.deepEqual(drain(), [
      [Op.UNSUBSCRIBE, "system"],
      [Op.SUBSCRIBE, "system"],
    ]);
    assert.equal(feeds.isSubscribed("system"), false);
    // The reply to the unsubscribe the page sent does not end anything: the subscribe is on its way.
    assert.equal(feeds.unsubscribed("system"), false);
    assert.equal(feeds.stateOf("system"), SubscriptionState.SUBSCRIBING);
    feeds.confirmed("system");
    assert.equal(feeds.isSubscribed("system"), true);
  });

  test("an unsubscribed the page did not ask for ends a subscription", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    feeds.confirmed("system");
    assert.equal(feeds.unsubscribed("system"), true);
    assert.equal(feeds.stateOf("system"), SubscriptionState.UNSUBSCRIBED);
    assert.equal(feeds.unsubscribed("unknown"), true);
  });

  test("unsubscribe gives up on a feed: an unsubscribe goes, and the feed can be subscribed again", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    drain();
    feeds.unsubscribe("system");
    assert.deepEqual(drain(), [[Op.UNSUBSCRIBE, "system"]]);
    assert.equal(feeds.stateOf("system"), SubscriptionState.UNSUBSCRIBED);
    feeds.subscribe("system");
    assert.deepEqual(drain(), [[Op.SUBSCRIBE, "system"]]);
  });

  test("a rate_limited subscribe goes again after the backoff, and only then", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    drain();
    assert.equal(feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE), true);
    assert.equal(feeds.stateOf("system"), SubscriptionState.RETRY_WAITING);
    assert.equal(feeds.isPending("system"), true);
    assert.equal(feeds.isSubscribed("system"), false);
    assert.deepEqual(timers.delays, [RETRY_BASE_MS]);
    timers.advance(RETRY_BASE_MS - 1);
    assert.deepEqual(drain(), []);
    timers.advance(1);
    assert.deepEqual(drain(), [[Op.SUBSCRIBE, "system"]]);
    assert.equal(feeds.stateOf("system"), SubscriptionState.SUBSCRIBING);
  });

  test("the wait doubles at each refusal in a row, up to the cap, and a confirmation starts it over", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    const waits = [];
    for (let refusal = 0; refusal < 6; refusal++) {
      feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
      waits.push(timers.delays[0]);
      timers.advance(timers.delays[0]);
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 10_000, 10_000]);
    feeds.confirmed("system");
    feeds.resubscribe("system");
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    assert.deepEqual(timers.delays, [RETRY_BASE_MS]);
  });

  test("the wait has its jitter from the injected random function", () => {
    randomValue = 0.5;
    const feeds = subscriptions();
    feeds.subscribe("system");
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    assert.deepEqual(timers.delays, [RETRY_BASE_MS * (1 + 0.5 * RETRY_JITTER)]);
  });

  test("a feed has one retry however many refusals arrive before it goes", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    feeds.resubscribe("system");
    drain();
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.UNSUBSCRIBE);
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    assert.equal(timers.delays.length, 1);
    // The latest refusal sets the wait: the third in a row.
    assert.deepEqual(timers.delays, [4 * RETRY_BASE_MS]);
    timers.advance(RETRY_CAP_MS * 2);
    assert.deepEqual(drain(), [
      [Op.UNSUBSCRIBE, "system"],
      [Op.SUBSCRIBE, "system"],
    ]);
  });

  test("retries of different feeds are independent", () => {
    const feeds = subscriptions();
    feeds.subscribe("a");
    feeds.subscribe("b");
    drain();
    feeds.refused("a", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    feeds.refused("a", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    feeds.refused("b", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    assert.deepEqual(timers.delays, [RETRY_BASE_MS, 2 * RETRY_BASE_MS]);
    timers.advance(RETRY_BASE_MS);
    assert.deepEqual(drain(), [[Op.SUBSCRIBE, "b"]]);
    timers.advance(RETRY_BASE_MS);
    assert.deepEqual(drain(), [[Op.SUBSCRIBE, "a"]]);
  });

  test("an unsubscribe refused is sent again, with the subscribe after it, whose already_subscribed is no fault", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    feeds.confirmed("system");
    feeds.resubscribe("system");
    drain();
    // The server did not read the unsubscribe, so it refused the subscribe behind it: still subscribed.
    assert.equal(feeds.refused("system", ErrorCode.RATE_LIMITED, Op.UNSUBSCRIBE), true);
    assert.equal(feeds.refused("system", ErrorCode.ALREADY_SUBSCRIBED, Op.SUBSCRIBE), true);
    assert.equal(feeds.stateOf("system"), SubscriptionState.RETRY_WAITING);
    timers.advance(RETRY_BASE_MS);
    assert.deepEqual(drain(), [
      [Op.UNSUBSCRIBE, "system"],
      [Op.SUBSCRIBE, "system"],
    ]);
    // Sent again once: a later refusal of the subscribe alone resends only the subscribe.
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    timers.advance(RETRY_CAP_MS * 2);
    assert.deepEqual(drain(), [[Op.SUBSCRIBE, "system"]]);
  });

  test("already_subscribed outside a retry is a fault", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    assert.equal(feeds.refused("system", ErrorCode.ALREADY_SUBSCRIBED, Op.SUBSCRIBE), false);
    assert.equal(feeds.stateOf("system"), SubscriptionState.UNSUBSCRIBED);
  });

  test("any other refusal is a fault: the retry is forgotten and the feed unsubscribed", () => {
    for (const code of [ErrorCode.FORBIDDEN, ErrorCode.UNKNOWN_FEED, ErrorCode.TOO_MANY_SUBSCRIPTIONS]) {
      const feeds = subscriptions();
      feeds.subscribe("system");
      feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
      timers.advance(RETRY_BASE_MS);
      drain();
      assert.equal(feeds.refused("system", code, Op.SUBSCRIBE), false, code);
      assert.equal(feeds.stateOf("system"), SubscriptionState.UNSUBSCRIBED, code);
      assert.deepEqual(timers.delays, [], code);
      // Its refusals are forgotten too: the next one waits the base again.
      feeds.subscribe("system");
      feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
      assert.deepEqual(timers.delays, [RETRY_BASE_MS], code);
      feeds.clear();
    }
  });

  test("a refusal while a retry waits cancels it", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    drain();
    feeds.refused("system", ErrorCode.INTERNAL_ERROR, Op.SUBSCRIBE);
    timers.advance(RETRY_CAP_MS * 2);
    assert.deepEqual(drain(), []);
  });

  test("a late refusal does not end a confirmed subscription", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    feeds.confirmed("system");
    assert.equal(feeds.refused("system", ErrorCode.NOT_SUBSCRIBED, Op.UNSUBSCRIBE), false);
    assert.equal(feeds.isSubscribed("system"), true);
  });

  test("a confirmation cancels a retry waiting", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    drain();
    feeds.confirmed("system");
    assert.deepEqual(timers.delays, []);
    timers.advance(RETRY_CAP_MS * 2);
    assert.deepEqual(drain(), []);
    assert.equal(feeds.isSubscribed("system"), true);
  });

  test("resubscribe replaces a retry waiting, and keeps the count of refusals", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.UNSUBSCRIBE);
    drain();
    feeds.resubscribe("system");
    assert.deepEqual(drain(), [
      [Op.UNSUBSCRIBE, "system"],
      [Op.SUBSCRIBE, "system"],
    ]);
    assert.deepEqual(timers.delays, []);
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    assert.deepEqual(timers.delays, [2 * RETRY_BASE_MS]);
    timers.advance(2 * RETRY_BASE_MS);
    assert.deepEqual(drain(), [[Op.SUBSCRIBE, "system"]]);
  });

  test("feed_not_ready waits, then reloads the feed list with the feed unsubscribed", () => {
    const feeds = subscriptions();
    feeds.subscribe("late");
    drain();
    assert.equal(feeds.refused("late", ErrorCode.FEED_NOT_READY, Op.SUBSCRIBE), true);
    assert.equal(feeds.stateOf("late"), SubscriptionState.NOT_READY);
    assert.equal(feeds.isPending("late"), false);
    assert.deepEqual(timers.delays, [NOT_READY_RETRY_MS]);
    timers.advance(NOT_READY_RETRY_MS - 1);
    assert.equal(reloads, 0);
    timers.advance(1);
    assert.equal(reloads, 1);
    assert.equal(feeds.stateOf("late"), SubscriptionState.UNSUBSCRIBED);
    // The reload subscribes it again.
    feeds.subscribe("late");
    assert.deepEqual(drain(), [[Op.SUBSCRIBE, "late"]]);
  });

  test("feed_not_ready refused again and again gives one reload per wait", () => {
    const feeds = subscriptions();
    feeds.subscribe("late");
    feeds.refused("late", ErrorCode.FEED_NOT_READY, Op.SUBSCRIBE);
    timers.advance(NOT_READY_RETRY_MS / 2);
    feeds.refused("late", ErrorCode.FEED_NOT_READY, Op.SUBSCRIBE);
    assert.deepEqual(timers.delays, [NOT_READY_RETRY_MS / 2]); // the wait already running goes on
    timers.advance(NOT_READY_RETRY_MS * 3);
    assert.equal(reloads, 1);
  });

  test("a feed not ready again and again is looked at after waits that double up to the cap, until confirmed", () => {
    const feeds = subscriptions();
    const waits = [];
    for (let round = 0; round < 8; round++) {
      feeds.subscribe("late");
      feeds.refused("late", ErrorCode.FEED_NOT_READY, Op.SUBSCRIBE);
      feeds.refused("late", ErrorCode.FEED_NOT_READY, Op.SUBSCRIBE); // a second answer starts no second wait
      waits.push(...timers.delays);
      timers.advance(timers.delays[0]);
    }
    assert.deepEqual(waits, [2000, 4000, 8000, 16_000, 32_000, NOT_READY_CAP_MS, NOT_READY_CAP_MS, NOT_READY_CAP_MS]);
    assert.equal(reloads, 8);
    feeds.subscribe("late");
    feeds.confirmed("late"); // it became ready: a later not-ready waits the first wait again
    feeds.refused("late", ErrorCode.FEED_NOT_READY, Op.SUBSCRIBE);
    assert.deepEqual(timers.delays, [NOT_READY_RETRY_MS]);
  });

  test("forget drops a feed's state and its retry; the feed starts afresh", () => {
    const feeds = subscriptions();
    feeds.subscribe("system");
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    feeds.subscribe("late");
    feeds.refused("late", ErrorCode.FEED_NOT_READY, Op.SUBSCRIBE);
    drain();
    feeds.forget("system");
    feeds.forget("late");
    feeds.forget("never-heard-of");
    assert.deepEqual(timers.delays, []);
    timers.advance(RETRY_CAP_MS * 2);
    assert.deepEqual(drain(), []);
    assert.equal(reloads, 0);
    assert.equal(feeds.stateOf("system"), SubscriptionState.UNSUBSCRIBED);
    feeds.subscribe("system");
    feeds.refused("system", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    assert.deepEqual(timers.delays, [RETRY_BASE_MS]);
  });

  test("clear (the connection closed) unsubscribes every feed and cancels every retry", () => {
    const feeds = subscriptions();
    feeds.subscribe("a");
    feeds.confirmed("a");
    feeds.subscribe("b");
    feeds.subscribe("c");
    feeds.refused("c", ErrorCode.RATE_LIMITED, Op.SUBSCRIBE);
    feeds.subscribe("d");
    feeds.refused("d", ErrorCode.FEED_NOT_READY, Op.SUBSCRIBE);
    drain();
    feeds.clear();
    for (const feed of ["a", "b", "c", "d"]) {
      assert.equal(feeds.stateOf(feed), SubscriptionState.UNSUBSCRIBED, feed);
    }
    timers.advance(RETRY_CAP_MS * 2);
    assert.deepEqual(drain(), []);
    assert.equal(reloads, 0);
    feeds.subscribe("a");
    assert.deepEqual(drain(), [[Op.SUBSCRIBE, "a"]]);
  });
});
