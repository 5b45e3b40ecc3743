/**
 * A sparkline: one series as an SVG path, small enough for a row of the quote table.
 *
 * Not a uPlot chart, as the big charts are: Chromium gives every canvas a compositor layer of its own, and fifty
 * sparkline canvases made every frame of the page dearer, whether they had changed or not (docs/performance.md).
 * An SVG path is painted with the table around it. Per pixel column the path keeps the lowest and the highest value,
 * in the order they came, so a long window draws no more than a short one.
 */

const SVG_NS = "http://www.w3.org/2000/svg";
// Room above the highest value and below the lowest, as a share of their span, so that no line runs along an edge.
const PADDING_FRACTION = 0.1;
const DECIMALS = 1;

export class Sparkline {
  /** A `width` x `height` (CSS pixels) sparkline in palette colour `color` (see `seriesStyle` in chart.js). */
  constructor({ width, height, color }) {
    this.width = width;
    this.height = height;
    this.element = document.createElementNS(SVG_NS, "svg");
    this.element.setAttribute("class", `sparkline series-${color}`);
    this.element.setAttribute("width", String(width));
    this.element.setAttribute("height", String(height));
    this.element.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.element.setAttribute("aria-hidden", "true");
    this.path = document.createElementNS(SVG_NS, "path");
    this.element.append(this.path);
  }

  /** Draws `values` at the times `xs` (seconds) across [from, to]; a null value breaks the line. */
  draw(xs, values, from, to) {
    const [low, high] = extent(values);
    if (low === null || to <= from) {
      this.path.removeAttribute("d");
      return;
    }
    const padding = (high - low || Math.abs(high) || 1) * PADDING_FRACTION;
    const top = high + padding;
    const xScale = this.width / (to - from);
    const yScale = this.height / (top - (low - padding));
    const y = (value) => ((top - value) * yScale).toFixed(DECIMALS);
    let path = "";
    let command = "M";
    let column = null; // the pixel column whose values are being gathered
    let min = 0;
    let max = 0;
    let minLater = false; // the column's lowest value came after its highest
    const flush = () => {
      if (column === null) {
        return;
      }
      const [first, second] = minLater ? [max, min] : [min, max];
      path += `${command}${column} ${y(first)}`;
      if (second !== first) {
        path += `L${column} ${y(second)}`;
      }
      command = "L";
      column = null;
    };
    for (let index = 0; index < xs.length; index++) {
      const value = values[index];
      if (value === null) {
        flush();
        command = "M";
        continue;
      }
      const at = Math.floor((xs[index] - from) * xScale);
      if (at !== column) {
        flush();
        column = at;
        min = value;
        max = value;
        minLater = false;
      } else if (value < min) {
        min = value;
        minLater = true;
      } else if (value > max) {
        max = value;
        minLater = false;
      }
    }
    flush();
    this.path.setAttribute("d", path);
  }
}

/** The lowest and highest of `values`, nulls skipped; [null, null] when there are none. */
function extent(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    if (value !== null) {
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
  }
  return low === Infinity ? [null, null] : [low, high];
}
