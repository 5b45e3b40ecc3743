// Unit tests of web/js/series.js: how the series of a chart are told apart besides colour.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { DASHES, PALETTE_SIZE, seriesStyle } from "../../web/js/series.js";

// A crowded chart draws its first eight series at first (plot.js); a smaller one draws them all.
const DRAWN_AT_FIRST = 8;

const key = ({ color, dash }) => `${color}/${dash.join(",")}`;

describe("seriesStyle", () => {
  test("gives every pair of the first eight series a different dash as well as a different colour", () => {
    const styles = Array.from({ length: DRAWN_AT_FIRST }, (unused, index) => seriesStyle(index));
    assert.equal(new Set(styles.map(({ color }) => color)).size, DRAWN_AT_FIRST);
    assert.equal(new Set(styles.map(({ dash }) => dash.join(","))).size, DRAWN_AT_FIRST);
  });

  test("never repeats a colour and dash together within the first palette-times-dashes series", () => {
    const count = PALETTE_SIZE * DASHES.length;
    const keys = Array.from({ length: count }, (unused, index) => key(seriesStyle(index)));
    assert.equal(new Set(keys).size, count);
  });

  test("draws the first series solid", () => {
    assert.deepEqual(seriesStyle(0).dash, []);
  });
});
