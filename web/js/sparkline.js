/**
 * A sparkline: one series as an SVG path, small enough for a row of the quote table.
 *
 * Not a uPlot chart, as the big charts are: Chromium gives every canvas a compositor layer of its own, and fifty
 * sparkline canvases made every frame of the page dearer, whether they had changed or not (docs/performance.md).
 * An SVG path is painted with the table around it. Per pixel column the path keeps the first, lowest, highest and
 * last value, in the order they came: a long window draws no more than a short one, and the line ends at the latest
 * value, the price beside it.
 */

import { svgElement } from "./dom.js";

// Room above the highest value and below the lowest, as a share of their span, so that no line runs along an edge.
const PADDING_FRACTION = 0.1;
const DECIMALS = 1;

export class Sparkline {
  /** A `width` x `height` (CSS pixels) sparkline in palette colour `color` (see `seriesStyle` in chart.js). */
  constructor({ width, height, color }) {
    this.width = width;
    this.height = height;
    this.path = svgElement("path");
    this.element = svgElement(
      "svg",
      { class: `sparkline series-${color}`, width, height, viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true" },
      this.path,
    );
  }

  /** Draws `values` at the times `xs` (seconds) across [from, to]: see sparklinePath. */
  draw(xs, values, from, to) {
    const path = sparklinePath(xs, values, from, to, this.width, this.height);
    if (path === null) {
      this.path.removeAttribute("d");
    } else {
      this.path.setAttribute("d", path);
    }
  }
}

/**
 * The SVG path (its `d`) of `values` at the times `xs` (seconds) across [from, to], in a `width` x `height` box,
 * scaled to the values within the range; null when there is nothing to draw. A value that is not a number (null)
 * breaks the line. Points just outside (the ring gives a bucket past each edge, so that the line reaches it) are
 * drawn, and clipped.
 */
export function sparklinePath(xs, values, from, to, width, height) {
  const [low, high] = extent(xs, values, from, to);
  if (low === null || to <= from) {
    return null;
  }
  const padding = (high - low || Math.abs(high) || 1) * PADDING_FRACTION;
  const top = high + padding;
  const xScale = width / (to - from);
  const yScale = height / (top - (low - padding));
  const y = (value) => ((top - value) * yScale).toFixed(DECIMALS);
  let path = "";
  let command = "M";
  let column = null; // the pixel column whose values are being gathered
  // Indexes of the column's first, lowest, highest and last values.
  let first = 0;
  let lowest = 0;
  let highest = 0;
  let last = 0;
  const flush = () => {
    if (column === null) {
      return;
    }
    let previous = -1;
    for (const index of [first, lowest, highest, last].sort((a, b) => a - b)) {
      if (index !== previous) {
        path += `${command}${column} ${y(values[index])}`;
        command = "L";
        previous = index;
      }
    }
    column = null;
  };
  for (let index = 0; index < xs.length; index++) {
    const value = values[index];
    if (!Number.isFinite(value)) {
      flush();
      command = "M";
      continue;
    }
    const at = Math.floor((xs[index] - from) * xScale);
    if (at !== column) {
      flush();
      column = at;
      first = index;
      lowest = index;
      highest = index;
    } else if (value < values[lowest]) {
      lowest = index;
    } else if (value > values[highest]) {
      highest = index;
    }
    last = index;
  }
  flush();
  return path;
}

/** The lowest and highest of the numbers in `values` at times within [from, to]; [null, null] when there are none. */
function extent(xs, values, from, to) {
  let low = Infinity;
  let high = -Infinity;
  for (let index = 0; index < xs.length; index++) {
    const value = values[index];
    if (Number.isFinite(value) && xs[index] >= from && xs[index] <= to) {
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
  }
  return low === Infinity ? [null, null] : [low, high];
}
