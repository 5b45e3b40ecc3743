// Unit tests of web/js/format.js: numbers with their units, for readouts and chart axes. The page writes numbers in
// its reader's locale; the texts expected here are an English locale's (`npm test` runs with LC_ALL=C.UTF-8, which
// Node's ICU takes as en-US).
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import {
  MISSING_TEXT,
  axisValues,
  decimalsForIncrement,
  describeUnit,
  formatAge,
  formatChange,
  formatMoment,
  formatValue,
} from "../../web/js/format.js";

before(() => {
  const locale = new Intl.NumberFormat().resolvedOptions().locale;
  assert.match(locale, /^en\b/, `these texts are an English locale's, not ${locale}'s: run with LC_ALL=C.UTF-8`);
});

describe("formatValue", () => {
  test("writes each known unit its own way", () => {
    const cases = [
      [12.345, "%", "12.3%"],
      [512, "B/s", "512 B/s"],
      [1234567, "B/s", "1.23 MB/s"],
      [4.5e9, "B", "4.50 GB"],
      [999, "B", "999 B"],
      [191.372, "$", "$191.37"],
      [1200, "shares", "1,200 shares"],
      [0.5312, "", "0.531"],
      [12345.6, "", "12,346"],
      [0, "", "0"],
    ];
    for (const [value, unit, expected] of cases) {
      assert.equal(formatValue(value, unit), expected, `${value} ${unit}`);
    }
  });

  test("writes an unknown unit after the number", () => {
    assert.equal(formatValue(3, "rpm"), "3 rpm");
    assert.equal(formatValue(0.01234, "s"), "0.0123 s");
  });

  test("writes a missing value as a dash, whatever the unit", () => {
    for (const value of [NaN, null, undefined]) {
      assert.equal(formatValue(value, "%"), MISSING_TEXT);
      assert.equal(formatValue(value, "rpm"), MISSING_TEXT);
    }
  });

  test("keeps the sign of negative numbers", () => {
    assert.equal(formatValue(-2500000, "B/s"), "-2.50 MB/s");
    assert.equal(formatValue(-0.5, "%"), "-0.5%");
  });
});

describe("formatChange", () => {
  test("gives a change its sign, a true minus, and none once rounded to zero", () => {
    assert.deepEqual([1.254, -0.4, 0.001, -0.004, 0].map(formatChange), [
      "+1.25%",
      "\u22120.40%",
      "0.00%",
      "0.00%",
      "0.00%",
    ]);
    assert.equal(formatChange(NaN), MISSING_TEXT);
  });
});

describe("formatAge", () => {
  test("writes milliseconds, then seconds with a decimal, then whole seconds, then minutes", () => {
    assert.deepEqual([80.4, 999, 1000, 1234, 9949, 14_400, 59_400, 190_000].map(formatAge), [
      "80 ms",
      "999 ms",
      "1.0 s",
      "1.2 s",
      "9.9 s",
      "14 s",
      "59 s",
      "3 min",
    ]);
  });

  test("never writes a negative age", () => {
    assert.equal(formatAge(-5), "0 ms");
  });
});

describe("decimalsForIncrement", () => {
  test("is the fewest decimals that write every multiple of the increment exactly", () => {
    assert.deepEqual([5, 1, 0.5, 0.25, 0.1, 0.05, 0.001, 2.5e-7].map(decimalsForIncrement), [0, 0, 1, 2, 1, 2, 3, 6]);
  });

  test("is 0 for an increment that is not a positive number", () => {
    assert.deepEqual([0, -1, NaN, Infinity].map(decimalsForIncrement), [0, 0, 0, 0]);
  });
});

describe("axisValues", () => {
  test("gives byte rates one prefix and one number of decimals for the whole axis", () => {
    assert.deepEqual(axisValues("B/s")(null, [0, 250000, 500000], 1, 0, 250000), ["0 kB/s", "250 kB/s", "500 kB/s"]);
    assert.deepEqual(axisValues("B")(null, [0, 2e9, 4e9], 1, 0, 2e9), ["0 GB", "2 GB", "4 GB"]);
    assert.deepEqual(axisValues("B/s")(null, [0, 1500, 3000], 1, 0, 1500), ["0.0 kB/s", "1.5 kB/s", "3.0 kB/s"]);
  });

  test("writes prices in cents or whole dollars", () => {
    assert.deepEqual(axisValues("$")(null, [190, 190.5, 191], 1, 0, 0.5), ["$190.00", "$190.50", "$191.00"]);
    assert.deepEqual(axisValues("$")(null, [190, 200], 1, 0, 10), ["$190", "$200"]);
  });

  test("writes percentages and plain numbers with the increment's decimals", () => {
    assert.deepEqual(axisValues("%")(null, [0, 25, 50], 1, 0, 25), ["0%", "25%", "50%"]);
    assert.deepEqual(axisValues("")(null, [0, 0.25, 0.5], 1, 0, 0.25), ["0.00", "0.25", "0.50"]);
  });
});

describe("describeUnit", () => {
  test("names the known units and keeps any other label", () => {
    assert.deepEqual(["%", "B/s", "B", "s", "$", "shares", "", "rpm"].map(describeUnit), [
      "Percent",
      "Bytes per second",
      "Bytes",
      "Seconds",
      "Price",
      "Shares",
      "Value",
      "rpm",
    ]);
  });
});

test("a moment of today is its time, of another day its date and time", () => {
  const now = new Date(2026, 11, 8, 15, 0, 0).getTime() / 1000;
  assert.equal(formatMoment(new Date(2026, 11, 8, 9, 5, 7).getTime() / 1000, now), "09:05:07");
  assert.equal(formatMoment(new Date(2026, 11, 7, 23, 59, 59).getTime() / 1000, now), "2026-12-07 23:59:59");
  assert.equal(formatMoment(new Date(2025, 11, 8, 9, 5, 7).getTime() / 1000, now), "2025-12-08 09:05:07");
});
