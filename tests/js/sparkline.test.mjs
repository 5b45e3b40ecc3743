// Unit tests of web/js/sparkline.js: the path a sparkline draws (the SVG element around it needs a DOM; the path
// does not).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { sparklinePath } from "../../web/js/sparkline.js";

// 10 x 12 px across 10 s: a pixel column a second.
const path = (xs, values, from = 0, to = 10) => sparklinePath(xs, values, from, to, 10, 12);

/** The points of a path, [x, y] pairs, with the command that reached each. */
function points(d) {
  return [...d.matchAll(/([ML])(-?[\d.]+) (-?[\d.]+)/g)].map(([, command, x, y]) => [command, Number(x), Number(y)]);
}

describe("sparklinePath", () => {
  test("keeps each pixel column's first, lowest, highest and last value, in the order they came", () => {
    // Within [0, 10] the values run from 0 to 10, so y = 11 - value; 100 is past the range's end.
    assert.equal(
      path([0.1, 0.2, 0.3, 0.4, 0.5, 2.5, 3.5, 4.5, 11.5], [5, 10, 0, 7, 6, null, 3, 4, 100]),
      "M0 6.0L0 1.0L0 11.0L0 5.0M3 8.0L4 7.0L11 -89.0",
    );
  });

  test("scales the values within the range to the box, a tenth of their span from each edge", () => {
    const drawn = points(path([0.5, 4.5, 9.5], [20, 40, 30]));
    const ys = drawn.map(([, , y]) => y);
    // The padded span is 1.2 times the values', so a tenth of it is 12 px / 1.2 / 10 = 1 px.
    assert.equal(Math.min(...ys), 1);
    assert.equal(Math.max(...ys), 11);
    assert.deepEqual(
      drawn.map(([, x]) => x),
      [0, 4, 9],
    );
  });

  test("draws a level line across the middle", () => {
    assert.equal(path([0.5, 5.5], [2, 2]), "M0 6.0L5 6.0");
  });

  test("breaks the line at a value that is not a number", () => {
    assert.equal(path([0.5, 1.5, 2.5], [1, NaN, 3]), "M0 11.0M2 1.0");
    assert.equal(path([0.5, 1.5, 2.5], [1, Infinity, 3]), "M0 11.0M2 1.0");
  });

  test("draws nothing without a value in the range, or for an empty range", () => {
    assert.equal(path([], []), null);
    assert.equal(path([10.5, 11.5], [1, 2]), null);
    assert.equal(path([0.5], [null]), null);
    assert.equal(path([0.5], [1], 5, 5), null);
  });

  test("draws no more points for a long series than for a short one: at most four per pixel column", () => {
    const xs = Array.from({ length: 10_000 }, (unused, index) => index / 1000);
    const values = xs.map((x) => Math.sin(x * 50));
    assert.ok(points(path(xs, values)).length <= 4 * 10);
  });
});
