// Unit tests of web/js/clock.js: the server's clock, as the pongs tell it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ServerClock } from "../../web/js/clock.js";

describe("ServerClock", () => {
  test("is the page's clock until the first pong", () => {
    const clock = new ServerClock({ wallNow: () => 5000 });
    assert.equal(clock.offsetMs, 0);
    assert.equal(clock.nowMs(), 5000);
    assert.equal(clock.now(), 5);
  });

  test("takes the offset from the middle of a ping's round trip", () => {
    let wall = 10_000;
    const clock = new ServerClock({ wallNow: () => wall });
    // Sent at 10,000 ms, back 100 ms later: the server said 70 s at about 10,050 ms on the page's clock.
    clock.sample(70, 10_000, 100);
    assert.equal(clock.offsetMs, 59_950);
    wall = 10_100;
    assert.equal(clock.nowMs(), 70_050);
    assert.equal(clock.now(), 70.05);
  });

  test("trusts the pong of the shortest round trip among the last eight", () => {
    const clock = new ServerClock({ wallNow: () => 0 });
    clock.sample(10, 0, 20); // offset 9990
    clock.sample(20, 0, 400); // slow: offset 19,800, not taken
    assert.equal(clock.offsetMs, 9990);
    for (let sample = 0; sample < 8; sample++) {
      clock.sample(30, 0, 200); // offset 29,900: the fast one is now older than the last eight
    }
    assert.equal(clock.offsetMs, 29_900);
  });

  test("ignores a pong without the server's time", () => {
    const clock = new ServerClock({ wallNow: () => 0 });
    clock.sample(10, 0, 20);
    for (const ts of [undefined, null, "10", NaN, Infinity]) {
      clock.sample(ts, 0, 1);
    }
    assert.equal(clock.offsetMs, 9990);
  });

  test("starts its samples afresh on a restart, keeping the offset until the next pong", () => {
    const clock = new ServerClock({ wallNow: () => 0 });
    clock.sample(10, 0, 20);
    clock.restart();
    assert.equal(clock.offsetMs, 9990);
    clock.sample(50, 0, 400); // slower than the forgotten one, and still taken
    assert.equal(clock.offsetMs, 49_800);
  });
});

test("knows the server's time only once a pong has told it", () => {
  const clock = new ServerClock({ wallNow: () => 5000 });
  assert.equal(clock.known, false);
  clock.sample(10, 4000, 20);
  assert.equal(clock.known, true);
  clock.restart(); // a new connection: the last offset stands until its first pong
  assert.equal(clock.known, true);
});
