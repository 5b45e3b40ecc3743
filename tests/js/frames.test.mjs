// Unit tests of web/js/frames.js: when the page draws, with a fake animation frame and clock.
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import { DATA_FRAME_MS, Draw, FrameScheduler } from "../../web/js/frames.js";

const CATCH_UP_MS = 500;

let now;
let callbacks;
let frames; // per frame run: { panel name: what it drew }, or "held"
let scheduler;
let shown;

/** Runs the animation frame asked for, if any, `ms` after the last one. */
function tick(ms = 16) {
  now += ms;
  const pending = callbacks.splice(0);
  assert.ok(pending.length <= 1, "at most one animation frame is asked for at a time");
  for (const callback of pending) {
    callback();
  }
  return pending.length === 1;
}

function panel(name) {
  return { name, drawnAt: -Infinity };
}

beforeEach(() => {
  now = 1000;
  callbacks = [];
  frames = [];
  shown = (item) => item.name !== "hidden";
  scheduler = new FrameScheduler(
    (frame) => {
      const drawn = {};
      for (const item of frame.resized) {
        drawn[`${item.name}:resized`] = true;
      }
      for (const item of [a, b, hidden]) {
        if (!shown(item)) {
          frame.skip(item);
          continue;
        }
        const draw = frame.drawOf(item);
        if (draw !== Draw.NONE) {
          drawn[item.name] = draw;
          if (draw === Draw.FULL) {
            item.drawnAt = frame.now;
          }
        }
      }
      frames.push(drawn);
    },
    { catchUpMs: CATCH_UP_MS, requestAnimationFrame: (callback) => callbacks.push(callback), now: () => now },
  );
});

const a = panel("a");
const b = panel("b");
const hidden = panel("hidden");

describe("FrameScheduler", () => {
  beforeEach(() => {
    for (const item of [a, b, hidden]) {
      item.drawnAt = -Infinity;
    }
  });

  test("asks for no frame until something is owed, and for one however much is", () => {
    assert.equal(tick(), false);
    scheduler.dataChanged(a);
    scheduler.dataChanged(b);
    scheduler.redraw();
    scheduler.resized(a);
    assert.equal(callbacks.length, 1);
    tick();
    assert.deepEqual(frames, [{ "a:resized": true, a: Draw.FULL, b: Draw.FULL }]);
    assert.equal(tick(), false);
  });

  test("draws new ticks at most every data frame, the panels whose ticks came in between together", () => {
    scheduler.dataChanged(a);
    tick();
    scheduler.dataChanged(a);
    tick(16);
    scheduler.dataChanged(b);
    tick(16); // still too soon: both wait
    tick(DATA_FRAME_MS - 2 * 16 - 5); // a frame may come a little early
    assert.deepEqual(frames, [{ a: Draw.DATA }, {}, {}, { a: Draw.DATA, b: Draw.DATA }]);
    assert.equal(tick(), false);
  });

  test("a redraw draws every shown panel in full, a resize only that panel", () => {
    scheduler.redraw();
    tick();
    scheduler.resized(b);
    tick();
    assert.deepEqual(frames, [
      { a: Draw.FULL, b: Draw.FULL },
      { "b:resized": true, b: Draw.FULL },
    ]);
  });

  test("a panel not shown owes nothing: its ticks do not keep frames coming", () => {
    scheduler.dataChanged(hidden);
    tick();
    assert.deepEqual(frames, [{}]);
    assert.equal(tick(DATA_FRAME_MS), false);
  });

  test("a drawFrame's drawAll draws everything in that frame", () => {
    const scheduler = new FrameScheduler(
      (frame) => {
        frame.drawAll();
        frames.push(frame.drawOf(a));
      },
      { catchUpMs: CATCH_UP_MS, requestAnimationFrame: (callback) => callbacks.push(callback), now: () => now },
    );
    scheduler.request();
    tick();
    assert.deepEqual(frames, [Draw.FULL]);
  });

  test("a catch-up draws the panels that have not drawn for a catch-up period, less a data frame", () => {
    scheduler.redraw();
    tick();
    scheduler.resized(b);
    tick(CATCH_UP_MS - DATA_FRAME_MS - 16);
    frames.length = 0;
    scheduler.catchUp();
    tick(16); // a drew a catch-up period (less a data frame) ago, b just now
    scheduler.dataChanged(b);
    tick(DATA_FRAME_MS);
    assert.deepEqual(frames, [{ a: Draw.FULL }, { b: Draw.DATA }]);
  });

  test("draws nothing while held, and everything once released", () => {
    scheduler.hold();
    scheduler.dataChanged(a);
    tick();
    assert.deepEqual(frames, []);
    scheduler.release();
    tick();
    scheduler.release(); // not held: nothing more
    assert.equal(tick(), false);
    assert.deepEqual(frames, [{ a: Draw.FULL, b: Draw.FULL }]);
  });

  test("forgets a panel that is gone", () => {
    scheduler.dataChanged(a);
    scheduler.resized(a);
    scheduler.forget(a);
    tick();
    assert.deepEqual(frames, [{}]);
    assert.equal(tick(DATA_FRAME_MS), false);
  });
});
