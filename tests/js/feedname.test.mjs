// Unit tests of web/js/feedname.js: a per-host feed's NAME@NODE, split for its panel's title.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { describeFeedName, splitFeedName } from "../../web/js/feedname.js";

describe("splitFeedName", () => {
  test("splits a per-host feed's name into the feed and its host", () => {
    assert.deepEqual(splitFeedName("system@node-1.example"), { feed: "system", host: "node-1.example" });
    assert.deepEqual(splitFeedName("system@10.0.0.7"), { feed: "system", host: "10.0.0.7" });
  });

  test("tells two hosts of one feed apart by their host only", () => {
    const [a, b] = ["system@a", "system@b"].map(splitFeedName);
    assert.equal(a.feed, b.feed);
    assert.notEqual(a.host, b.host);
  });

  test("leaves a feed that is not per host whole", () => {
    for (const name of ["system", "stocks", "a_longer_feed_name", "@node", "system@"]) {
      assert.deepEqual(splitFeedName(name), { feed: name, host: null }, name);
    }
  });
});

describe("describeFeedName", () => {
  test("names the host for a screen reader", () => {
    assert.equal(describeFeedName("system@node-1.example"), "system feed on node-1.example");
    assert.equal(describeFeedName("stocks"), "stocks feed");
  });
});
