// Unit tests of web/js/data.js: binary frames decoded, and ticks kept in bounded time buckets.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  Appended,
  BUCKETS_PER_WINDOW,
  BucketRing,
  FRAME_LAYOUT_VERSION,
  FeedHistory,
  decodeFrame,
  makeTick,
  tickFromMessage,
} from "../../web/js/data.js";

/** A binary data frame as the server writes it (docs/protocol.md, "Binary data frames"). */
function frame({ feed = "system", run = 7, seq = 42, ts = 1764694800.25, values = [1.5, -2, NaN], version = 1 } = {}) {
  const name = new TextEncoder().encode(feed);
  const valuesOffset = 32 + Math.ceil(name.length / 8) * 8;
  const buffer = new ArrayBuffer(valuesOffset + 8 * values.length);
  const view = new DataView(buffer);
  view.setUint8(0, version);
  view.setUint16(2, name.length, true);
  view.setUint32(4, values.length, true);
  view.setBigUint64(8, BigInt(seq), true);
  view.setFloat64(16, ts, true);
  view.setUint32(24, run, true);
  new Uint8Array(buffer, 32, name.length).set(name);
  values.forEach((value, index) => view.setFloat64(valuesOffset + 8 * index, value, true));
  return buffer;
}

const tick = (seq, ts, values, run = 1) => makeTick("probe", run, seq, ts, Float64Array.from(values));

describe("decodeFrame", () => {
  test("reads the header and the values, whatever the name's length", () => {
    for (const feed of ["s", "system", "stocks50", "a-feed-with-a-long-name"]) {
      const decoded = decodeFrame(frame({ feed }));
      assert.equal(decoded.feed, feed);
      assert.equal(decoded.run, 7);
      assert.equal(decoded.seq, 42);
      assert.equal(decoded.ts, 1764694800.25);
      assert.deepEqual([...decoded.values], [1.5, -2, NaN]);
    }
  });

  test("reads a frame of no values", () => {
    assert.deepEqual([...decodeFrame(frame({ values: [] })).values], []);
  });

  test("refuses a frame too short, of another layout, or of the wrong length", () => {
    assert.throws(() => decodeFrame(new ArrayBuffer(31)), /too short: 31 bytes/);
    assert.throws(() => decodeFrame(frame({ version: FRAME_LAYOUT_VERSION + 1 })), /unknown binary frame layout 2/);
    const long = frame();
    const padded = new Uint8Array(long.byteLength + 8);
    padded.set(new Uint8Array(long));
    assert.throws(() => decodeFrame(padded.buffer), /its header says/);
  });
});

describe("tickFromMessage", () => {
  test("puts a JSON tick's values in the fields' order, missing ones as NaN", () => {
    const message = { feed: "system", run: 2, seq: 9, ts: 100.5, values: { mem: 40, cpu: 12 } };
    const decoded = tickFromMessage(message, ["cpu", "mem", "swap"]);
    assert.equal(decoded.feed, "system");
    assert.equal(decoded.seq, 9);
    assert.deepEqual([...decoded.values], [12, 40, NaN]);
  });
});

describe("BucketRing", () => {
  test("keeps the lowest, highest, last value and sum of each bucket's ticks", () => {
    const ring = new BucketRing(1, 10, 1);
    for (const [x, value] of [
      [0.1, 5],
      [0.2, 9],
      [0.3, 1],
      [0.4, 4],
      [1.5, 7],
    ]) {
      ring.add(x, [value]);
    }
    assert.equal(ring.length, 2);
    assert.equal(ring.ticks, 5);
    assert.deepEqual([ring.mins[0][0], ring.maxs[0][0], ring.lasts[0][0], ring.sums[0][0]], [1, 9, 4, 19]);
    assert.deepEqual([ring.xs[0], ring.xEnds[0], ring.counts[0]], [0.1, 0.4, 4]);
  });

  test("draws a bucket of several ticks as its minimum and maximum, in the order they came", () => {
    const ring = new BucketRing(2, 10, 1);
    ring.add(0.1, [5, 5]);
    ring.add(0.2, [9, 1]); // column 0 rises to its maximum, column 1 falls to its minimum
    ring.add(0.3, [1, 9]); // then column 0 falls to its minimum, column 1 rises to its maximum
    ring.add(1.5, [3, 3]);
    const target = [[], [], []];
    ring.fillLines(target, [0, 1], 0, 2);
    assert.deepEqual(target, [
      [0.1, 0.3, 1.5],
      [9, 1, 3],
      [1, 9, 3],
    ]);
  });

  test("hands gaps to the charts as null, and percent changes from bases", () => {
    const ring = new BucketRing(1, 10, 1);
    ring.add(0.5, [100]);
    ring.addGap(1.5, Float64Array.of(NaN));
    ring.add(2.5, [110]);
    const target = [[], []];
    ring.fillLines(target, [0], 0, 3);
    assert.deepEqual(target, [
      [0.5, 1.5, 2.5],
      [100, null, 110],
    ]);
    ring.fillLines(target, [0], 0, 3, Float64Array.of(100));
    assert.deepEqual(target[1], [0, null, 10]);
    ring.fillLines(target, [0], 0, 3, Float64Array.of(0));
    assert.deepEqual(target[1], [null, null, null]);
    assert.equal(ring.ticks, 2);
  });

  test("draws the buckets of a range with one more on each side, so lines run to the edges", () => {
    const ring = new BucketRing(1, 100, 1);
    for (let second = 0; second < 20; second++) {
      ring.add(second + 0.5, [second]);
    }
    const target = [[], []];
    ring.fillLines(target, [0], 5, 10);
    assert.deepEqual(target[1], [4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(ring.span(5, 10), [4, 11]);
    assert.deepEqual(ring.span(100, 200), [19, 20]);
  });

  test("overwrites its oldest bucket once full, so it holds at most its capacity", () => {
    const ring = new BucketRing(1, 4, 1);
    for (let second = 0; second < 10; second++) {
      ring.add(second, [second]);
    }
    assert.equal(ring.length, 4);
    assert.equal(ring.ticks, 4);
    const target = [[], []];
    ring.fillLines(target, [0], 0, 10);
    assert.deepEqual(target, [
      [6, 7, 8, 9],
      [6, 7, 8, 9],
    ]);
  });

  test("adds bars up per slice, the first counting its whole slice, and totals a range", () => {
    const ring = new BucketRing(2, 100, 0.5);
    for (let index = 0; index < 8; index++) {
      ring.add(index * 0.5 + 0.1, [1, 10]);
    }
    const bars = [[], []];
    ring.fillBars(bars, [0, 1], 0.7, 3.9, 1);
    assert.deepEqual(bars, [
      [0.5, 1.5, 2.5, 3.5],
      [22, 22, 22, 22],
    ]);
    assert.equal(ring.total(0, 0, 1.9), 4);
    assert.equal(ring.total(1, 2, 4), 40);
  });

  test("finds each column's first value in a range, past the gaps", () => {
    const ring = new BucketRing(2, 10, 1);
    ring.add(0.5, [NaN, 1]);
    ring.add(1.5, [2, 3]);
    const out = new Float64Array(2);
    assert.deepEqual([...ring.firstValues(0, 2, [0, 1], out)], [2, 1]);
    assert.deepEqual([...ring.firstValues(5, 6, [0, 1], out)], [NaN, NaN]);
  });

  test("finds each column's last value in a range, before the gaps at its end", () => {
    const ring = new BucketRing(2, 10, 1);
    ring.add(0.5, [1, 1]);
    ring.add(1.5, [2, NaN]);
    ring.add(5.5, [9, 9]);
    const out = new Float64Array(2);
    assert.deepEqual([...ring.lastValues(0, 5, [0, 1], out)], [2, 1]);
    assert.deepEqual([...ring.lastValues(0, 6, [0, 1], out)], [9, 9]);
    assert.deepEqual([...ring.lastValues(1, 2, [0, 1], out)], [2, NaN]);
    assert.deepEqual([...ring.lastValues(7, 8, [0, 1], out)], [NaN, NaN]);
  });

  test("gives a copy that later ticks do not touch", () => {
    const ring = new BucketRing(1, 10, 1);
    ring.add(0.5, [1]);
    const copy = ring.clone();
    ring.add(0.6, [5]);
    ring.add(1.5, [2]);
    assert.deepEqual([copy.length, copy.ticks, copy.maxs[0][0]], [1, 1, 1]);
    assert.deepEqual([ring.length, ring.ticks, ring.maxs[0][0]], [2, 3, 5]);
  });
});

describe("FeedHistory", () => {
  test("says what it did with each tick: continued, after a gap, restarted, or a duplicate dropped", () => {
    const history = new FeedHistory(1, 60);
    assert.equal(history.append(tick(1, 100, [1])), Appended.CONTINUED);
    assert.equal(history.append(tick(2, 101, [2])), Appended.CONTINUED);
    assert.equal(history.append(tick(2, 101, [2])), Appended.DUPLICATE);
    assert.equal(history.append(tick(1, 101.5, [2])), Appended.DUPLICATE);
    assert.equal(history.append(tick(5, 104, [5])), Appended.AFTER_GAP); // seq 3 and 4 missed
    assert.equal(history.append(tick(1, 105, [1], 2)), Appended.AFTER_GAP); // a new run
    assert.equal(history.append(tick(2, 90, [1], 2)), Appended.RESTARTED); // the clock went back
    assert.equal(history.gaps, 2);
    assert.equal(history.length, 1);
    assert.deepEqual([history.lastRun, history.lastSeq, history.lastTs, history.firstSeq], [2, 2, 90, 2]);
  });

  test("stores a gap between the ticks either side of a missed stretch", () => {
    const history = new FeedHistory(1, 60);
    history.append(tick(1, 100, [1]));
    history.append(tick(4, 104, [4]));
    const target = [[], []];
    history.ring.fillLines(target, [0], 99, 105);
    assert.deepEqual(target, [
      [100, 102, 104],
      [1, null, 4],
    ]);
  });

  test("a new run is a new baseline: its change starts at 0 after a break, and the run shown starts at its gap", () => {
    const history = new FeedHistory(2, 60);
    history.append(tick(1, 100, [100, 10]));
    history.append(tick(2, 101, [110, 20]));
    history.append(tick(1, 103, [400, 30], 2)); // the server restarted: another run, at other prices
    history.append(tick(2, 104, [440, 40], 2));
    history.append(tick(4, 106, [480, 50], 2)); // a missed stretch of the same run is no new baseline
    const { ring } = history;
    const target = [[], [], []];
    ring.fillLines(target, [0, 1], 99, 107, ring.firstValues(99, 107, [0, 1], new Float64Array(2)));
    assert.deepEqual(target, [
      [100, 101, 102, 103, 104, 105, 106],
      [0, 10, null, 0, 10, null, 20],
      [0, 100, null, 0, ((40 - 30) / 30) * 100, null, ((50 - 30) / 30) * 100],
    ]);
    assert.equal(ring.lastRunStart(99, 107), 102);
    assert.deepEqual([...ring.firstValues(ring.lastRunStart(99, 107), 107, [0], new Float64Array(1))], [400]);
    assert.equal(ring.total(1, ring.lastRunStart(99, 107), 107), 120);
    assert.equal(ring.lastRunStart(99, 101.5), 99); // a range before the new run: its own start
    assert.equal(ring.lastRunStart(103.5, 107), 103.5); // a range within the new run
    assert.equal(ring.clone().lastRunStart(99, 107), 102);
  });

  test("keeps the latest values, the oldest time and the count of ticks", () => {
    const history = new FeedHistory(2, 60);
    assert.equal(history.firstTs, Infinity);
    assert.equal(history.lastTs, -Infinity);
    history.append(tick(1, 100, [1, 2]));
    history.append(tick(2, 100.01, [3, 4]));
    assert.deepEqual([...history.latest], [3, 4]);
    assert.equal(history.firstTs, 100);
    assert.equal(history.length, 2);
  });

  test("holds a window's worth in a bounded number of buckets however long it runs", () => {
    const history = new FeedHistory(1, 60);
    for (let seq = 1; seq <= 20_000; seq++) {
      history.append(tick(seq, seq * 0.01, [seq]));
    }
    assert.ok(history.ring.length <= history.ring.capacity);
    assert.ok(history.ring.capacity < 2 * BUCKETS_PER_WINDOW);
    // What it holds reaches back at least a window from the newest tick.
    assert.ok(history.firstTs <= history.lastTs - 60);
  });

  test("gives a copy that later ticks do not touch", () => {
    const history = new FeedHistory(1, 60);
    history.append(tick(1, 100, [1]));
    const copy = history.clone();
    history.append(tick(2, 101, [2]));
    assert.deepEqual([copy.length, copy.lastSeq, [...copy.latest]], [1, 1, [1]]);
    assert.equal(history.length, 2);
  });

  test("makes a store for a paused range at least as long as the window", () => {
    assert.equal(FeedHistory.forRange(1, 60, [0, 10]).windowSeconds, 60);
    assert.equal(FeedHistory.forRange(1, 60, [0, 600]).windowSeconds, 600);
  });
});
