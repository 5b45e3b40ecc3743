// Unit tests of web/js/states.js: what a panel's badge and banner, and the page's badge, say for the connection's
// state and the feed's health.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Health, STATE_LABELS, State, healthNotice, isConnectedPanel, shownState } from "../../web/js/states.js";

describe("shownState", () => {
  test("a feed waiting for its first sample says so, or that it fails: never that the page is connecting", () => {
    assert.equal(shownState(State.WAITING, Health.STARTING, false), State.WAITING);
    assert.equal(shownState(State.WAITING, Health.FAILING, false), State.FAILING);
    assert.equal(STATE_LABELS[State.WAITING], "Waiting for first sample");
    assert.equal(isConnectedPanel(State.WAITING, Health.STARTING, false), true);
  });

  test("shows a subscribed feed that is stale as stale, whatever the connection did before", () => {
    for (const state of [State.CONNECTING, State.LIVE, State.STALE]) {
      assert.equal(shownState(state, Health.STALE, true), State.STALE, state);
    }
    assert.equal(STATE_LABELS[State.STALE], "Stale");
  });

  test("shows a subscribed feed that fails as failing", () => {
    assert.equal(shownState(State.LIVE, Health.FAILING, true), State.FAILING);
    assert.equal(STATE_LABELS[State.FAILING], "Feed failing");
  });

  test("shows the connection state while the feed is fine or starting", () => {
    for (const state of Object.values(State)) {
      assert.equal(shownState(state, Health.OK, true), state, state);
      assert.equal(shownState(state, Health.STARTING, true), state, state);
    }
  });

  test("shows the connection state, not an old health, while not subscribed", () => {
    for (const health of [Health.STALE, Health.FAILING]) {
      assert.equal(shownState(State.RECONNECTING, health, false), State.RECONNECTING, health);
      assert.equal(shownState(State.CONNECTING, health, false), State.CONNECTING, health);
    }
  });

  test("is live again once the server says the feed is ok", () => {
    assert.equal(shownState(State.LIVE, Health.STALE, true), State.STALE);
    assert.equal(shownState(State.LIVE, Health.OK, true), State.LIVE);
  });
});

describe("healthNotice", () => {
  test("says why a feed is stale in the server's words", () => {
    const error = "no server produces this feed: its leader stopped and none has taken over";
    assert.equal(healthNotice(Health.STALE, error, true), `Feed stale: ${error}`);
  });

  test("says why a feed fails", () => {
    assert.equal(healthNotice(Health.FAILING, "boom", true), "Feed failing: boom");
  });

  test("says nothing while the feed is fine", () => {
    assert.equal(healthNotice(Health.OK, null, true), null);
    assert.equal(healthNotice(Health.STARTING, null, true), null);
  });

  test("says a feed without fields waits for its first sample", () => {
    assert.equal(healthNotice(Health.STARTING, null, false), "Waiting for the feed's first sample…");
  });
});

describe("isConnectedPanel", () => {
  test("a stale or failing subscribed feed does not make the connection look down", () => {
    assert.ok(isConnectedPanel(State.LIVE, Health.STALE, true));
    assert.ok(isConnectedPanel(State.CONNECTING, Health.STALE, true)); // subscribed while no server produces it
    assert.ok(isConnectedPanel(State.CONNECTING, Health.FAILING, true));
    assert.ok(isConnectedPanel(State.STALE, Health.OK, true)); // silent on an open connection
  });

  test("a panel waiting for its first tick, or reconnecting, does not show the connection works", () => {
    assert.ok(!isConnectedPanel(State.CONNECTING, Health.OK, true));
    assert.ok(!isConnectedPanel(State.CONNECTING, Health.STARTING, false));
    assert.ok(!isConnectedPanel(State.RECONNECTING, Health.STALE, false));
    assert.ok(!isConnectedPanel(State.SIGNED_OUT, Health.OK, false));
  });
});
