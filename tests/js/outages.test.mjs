// Unit tests of web/js/outages.js: the spans when the page was disconnected.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Outages } from "../../web/js/outages.js";

describe("Outages", () => {
  test("an outage runs from the newest tick for as long as the page is away", () => {
    const outages = new Outages({ keepSeconds: 3600 });
    assert.equal(outages.ongoingEnd, null);
    // The newest tick was at 100; the close came at 103 (the server's time, as the page tells it).
    outages.begin(100, 103);
    assert.deepEqual(outages.spans, [[100, 100]]);
    outages.update(108);
    assert.deepEqual(outages.spans, [[100, 105]]);
    assert.equal(outages.ongoingEnd, 105);
    assert.equal(outages.end(113), true);
    assert.deepEqual(outages.spans, [[100, 110]]);
    assert.equal(outages.ongoingEnd, null);
  });

  test("a second close before the reconnect does not start another outage, nor does a second open end one", () => {
    const outages = new Outages({ keepSeconds: 3600 });
    outages.begin(100, 100);
    outages.begin(150, 150);
    assert.equal(outages.end(120), true);
    assert.equal(outages.end(130), false);
    outages.update(140);
    assert.deepEqual(outages.spans, [[100, 120]]);
  });

  test("forgets spans that ended too long before the newest one", () => {
    const outages = new Outages({ keepSeconds: 60 });
    for (const start of [0, 50, 100, 150]) {
      outages.begin(start, start);
      outages.end(start + 5);
    }
    assert.deepEqual(outages.spans, [
      [100, 105],
      [150, 155],
    ]);
  });

  test("keeps at most `max` spans, forgetting the oldest", () => {
    const outages = new Outages({ keepSeconds: Infinity, max: 3 });
    for (let start = 0; start < 10; start++) {
      outages.begin(start, start);
      outages.end(start + 0.5);
    }
    assert.deepEqual(
      outages.spans.map(([from]) => from),
      [7, 8, 9],
    );
  });
});
