/**
 * One chart on a panel: the uPlot instance, its legend (a button per series, to hide or show it), its tooltip
 * (every shown series' value at the cursor's time), and its keyboard use (arrow keys move the cursor).
 *
 * The panel fills `data` and calls `draw()`; the plot never decides what to draw. The cursor is shared by every
 * chart on the page (chart.js), so the legend values of all charts follow whichever one the reader points at.
 */

import { AxisWidth, CHART_HEIGHT_PX, chartOptions, createChart, formatTime, seriesStyle } from "./chart.js";
import { element, setText, svgElement } from "./dom.js";

// Wide enough for one whole period of the longest dash (series.js).
const MARKER_WIDTH = 28;
const MARKER_HEIGHT = 6;
// The tooltip keeps this far from the cursor, and flips to the cursor's left past the middle of the plot.
const TOOLTIP_OFFSET_PX = 12;
const HALF = 0.5;
const FAST_STEP = 10;
const ZOOM_FACTOR = 2;
/**
 * A chart of more series than this starts with only its first CROWDED_SHOWN drawn (the legend turns on the rest):
 * fifty lines on one chart cannot be told apart, and each costs a fiftieth of the drawing.
 */
export const CROWDED_SERIES = 16;
export const CROWDED_SHOWN = 8;
// Where uPlot parks a cursor that is not over the plot.
const CURSOR_OFF = { left: -10, top: -10 };

/** A short line in a series' colour and dash, as drawn on the chart, for legends and tooltips. */
export function seriesMarker(index) {
  const { color, dash } = seriesStyle(index);
  const line = svgElement("line", {
    x1: 1,
    x2: MARKER_WIDTH - 1,
    y1: MARKER_HEIGHT / 2,
    y2: MARKER_HEIGHT / 2,
    ...(dash.length > 0 ? { "stroke-dasharray": dash.join(" ") } : {}),
  });
  return svgElement(
    "svg",
    { class: `marker series-${color}`, viewBox: `0 0 ${MARKER_WIDTH} ${MARKER_HEIGHT}`, "aria-hidden": "true" },
    line,
  );
}

export class Plot {
  /**
   * `labels` name the series; `isHidden(label, byDefault)` says which start hidden (`byDefault` for the series
   * of a crowded chart past its first few); `onToggle(label, shown, byDefault)` hears the legend; `onSelect(from, to)` hears a zoom (a drag, or + and − from the keyboard); `format(value)` writes a
   * value for the legend and tooltip; `axisWidth` (an AxisWidth) is shared by the charts of one panel, whose y axes
   * take the same width.
   */
  constructor({
    kind,
    unit,
    caption,
    labels,
    format,
    timeline,
    outages,
    isHidden,
    onToggle,
    onSelect,
    axisWidth = new AxisWidth(),
  }) {
    this.kind = kind;
    this.unit = unit;
    this.labels = labels;
    this.format = format;
    this.timeline = timeline;
    this.outages = outages;
    this.onToggle = onToggle;
    this.onSelect = onSelect;
    this.axisWidth = axisWidth;
    this.axisPx = null; // the y-axis width the chart took at its last layout
    const crowded = labels.length > CROWDED_SERIES;
    this.hiddenByDefault = labels.map((label, index) => crowded && index >= CROWDED_SHOWN);
    this.shown = labels.map((label, index) => !isHidden(label, this.hiddenByDefault[index]));
    this.data = [[], ...labels.map(() => [])];
    this.chart = null;
    this.active = false; // the pointer is over the plot, or the keyboard drives its cursor
    this.keyTime = null; // the time the keyboard cursor is at, while it drives it

    this.plot = element("div", {
      class: "chart__plot",
      tabindex: "0",
      role: "group",
      "aria-label": `${caption} chart: arrow keys move the cursor, + and − zoom, Escape returns to live`,
    });
    this.tooltip = element("div", { class: "tooltip", "data-testid": "tooltip", hidden: "" });
    this.tooltipTime = element("div", { class: "tooltip__time" });
    this.tooltipRows = labels.map((label, index) => {
      const value = element("span", { class: "tooltip__value" });
      const row = element(
        "div",
        { class: "tooltip__row" },
        seriesMarker(index),
        element("span", { class: "tooltip__label", text: label }),
        value,
      );
      return { row, value };
    });
    this.tooltip.append(this.tooltipTime, ...this.tooltipRows.map(({ row }) => row));
    // What the keyboard cursor reads out: written only when a key moves it, so a screen reader is not flooded.
    this.announcer = element("span", { class: "visually-hidden", "aria-live": "polite", "data-testid": "announcer" });
    // What the caption adds that changes with the view (how long a bar covers).
    this.captionNote = element("span", { class: "chart__note", "data-testid": "caption-note" });
    this.legendValues = [];
    this.legendButtons = labels.map((label, index) => {
      const value = element("span", { class: "legend__value" });
      this.legendValues.push(value);
      const button = element(
        "button",
        {
          type: "button",
          class: "legend__item",
          "aria-pressed": String(this.shown[index]),
          dataset: { series: label },
        },
        seriesMarker(index),
        element("span", { class: "legend__label", text: label }),
        value,
      );
      button.addEventListener("click", () => this.toggle(index));
      return button;
    });
    this.legend = element("div", {
      class: "legend",
      "data-testid": "legend",
      role: "group",
      "aria-label": `${caption} series`,
    });
    this.legend.append(...this.legendButtons);
    this.element = element(
      "figure",
      { class: `chart chart--${kind}`, "data-testid": "chart", dataset: { kind } },
      element("figcaption", { class: "chart__caption", text: caption }, this.captionNote),
      this.plot,
      this.legend,
      this.announcer,
    );
    this.plot.addEventListener("keydown", (event) => this.onKey(event));
    this.plot.addEventListener("focus", () => this.onFocus());
    this.plot.addEventListener("blur", () => this.onBlur());
  }

  /** Builds the uPlot chart (again, after a theme change) at the plot's current width. */
  build(theme) {
    this.chart?.destroy();
    const options = chartOptions({
      kind: this.kind,
      unit: this.unit,
      labels: this.labels,
      width: this.plot.clientWidth,
      height: CHART_HEIGHT_PX,
      theme,
      timeline: this.timeline,
      outages: this.outages,
      onBands: (bands) => {
        this.element.dataset.bands = JSON.stringify(bands);
      },
      // Synced charts select along with the one dragged across: only that one zooms.
      onSelect: (from, to) => {
        if (this.active) {
          this.onSelect(from, to);
        }
      },
      yAxisWidth: (px) => {
        this.axisPx = this.axisWidth.want(this, px);
        return this.axisPx;
      },
      hooks: {
        setCursor: [(chart) => this.onCursor(chart)],
        draw: [(chart) => this.markRange(chart)],
      },
    });
    options.series.forEach((series, index) => {
      if (index > 0) {
        series.show = this.shown[index - 1];
      }
    });
    this.chart = createChart(options, this.data, this.plot);
    this.chart.over.append(this.tooltip);
    this.chart.over.addEventListener("mouseenter", () => {
      this.keyTime = null; // the pointer drives the cursor now
      this.setActive(true);
    });
    this.chart.over.addEventListener("mouseleave", () => this.setActive(false));
  }

  /** Draws `data` now (not in uPlot's microtask), so that the y-axis width it needs is known when this returns. */
  draw() {
    this.chart.batch(() => this.chart.setData(this.data));
    if (this.keyTime !== null) {
      this.placeCursor(this.nearestIndex(this.keyTime));
    }
  }

  /** Adds `text` to the caption (a bar chart's "per 1 s"). */
  setNote(text) {
    setText(this.captionNote, text === "" ? "" : ` ${text}`);
  }

  /** Lays the chart out again if its y axis is not as wide as the panel's now (another chart's labels grew or shrank). */
  alignAxis() {
    if (this.axisPx !== null && this.axisPx !== this.axisWidth.px) {
      this.chart.batch(() => this.chart.redraw(true, true));
    }
  }

  resize() {
    if (this.plot.clientWidth !== this.chart.width) {
      this.chart.setSize({ width: this.plot.clientWidth, height: CHART_HEIGHT_PX });
    }
  }

  toggle(index) {
    this.shown[index] = !this.shown[index];
    this.legendButtons[index].setAttribute("aria-pressed", String(this.shown[index]));
    this.chart.setSeries(index + 1, { show: this.shown[index] });
    this.onToggle(this.labels[index], this.shown[index], this.hiddenByDefault[index]);
  }

  /** The legend shows the values at the cursor on every chart; the tooltip only on the chart in use. */
  onCursor(chart) {
    const index = chart.cursor.idx;
    const hasValue = index !== null && index !== undefined;
    this.legendValues.forEach((value, position) => {
      const text = hasValue ? this.format(this.data[position + 1][index] ?? null) : "";
      if (value.textContent !== text) {
        value.textContent = text;
      }
    });
    if (!this.active || !hasValue) {
      this.tooltip.hidden = true;
      return;
    }
    setText(this.tooltipTime, formatTime(this.data[0][index]));
    this.tooltipRows.forEach(({ row, value }, position) => {
      row.hidden = !this.shown[position];
      setText(value, this.format(this.data[position + 1][index] ?? null));
    });
    this.tooltip.hidden = false;
    const { left, top } = chart.cursor;
    const flip = left > chart.over.clientWidth * HALF;
    this.tooltip.style.setProperty("left", flip ? "auto" : `${left + TOOLTIP_OFFSET_PX}px`);
    this.tooltip.style.setProperty("right", flip ? `${chart.over.clientWidth - left + TOOLTIP_OFFSET_PX}px` : "auto");
    // Below the cursor, but never past the plot's bottom, where it would cover the legend: near the bottom it rises
    // (a tooltip taller than a short plot reaches above it, over the caption, never onto the legend under the cursor).
    const lowest = chart.over.clientHeight - this.tooltip.offsetHeight;
    this.tooltip.style.setProperty("top", `${Math.min(Math.max(0, top) + TOOLTIP_OFFSET_PX, lowest)}px`);
  }

  /** Records the time range drawn, for tests and the page benchmark. */
  markRange(chart) {
    const { min, max } = chart.scales.x;
    this.element.dataset.from = String(min);
    this.element.dataset.to = String(max);
  }

  setActive(active) {
    this.active = active;
    if (!active) {
      this.tooltip.hidden = true;
    }
  }

  /** Focus from the keyboard puts the cursor on the newest point; a click's focus leaves the pointer in charge. */
  onFocus() {
    if (!this.plot.matches(":focus-visible")) {
      return;
    }
    this.setActive(true);
    const last = this.data[0].length - 1;
    if (last >= 0) {
      this.keyTime = this.data[0][last];
      this.placeCursor(last);
    }
  }

  onBlur() {
    this.keyTime = null;
    this.setActive(false);
    this.chart.setCursor(CURSOR_OFF, true, true);
  }

  onKey(event) {
    const xs = this.data[0];
    // Ctrl, Cmd or Alt with a key is the browser's (page zoom, history): never taken from it.
    if (xs.length === 0 || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    const current = this.keyTime === null ? xs.length - 1 : this.nearestIndex(this.keyTime);
    const step = event.shiftKey ? FAST_STEP : 1;
    let index = null;
    switch (event.key) {
      case "ArrowLeft":
        index = Math.max(0, current - step);
        break;
      case "ArrowRight":
        index = Math.min(xs.length - 1, current + step);
        break;
      case "Home":
        index = 0;
        break;
      case "End":
        index = xs.length - 1;
        break;
      case "+":
      case "=":
        this.zoom(xs[current], 1 / ZOOM_FACTOR);
        break;
      case "-":
        this.zoom(xs[current], ZOOM_FACTOR);
        break;
      default:
        return;
    }
    event.preventDefault();
    if (index !== null) {
      this.setActive(true);
      this.keyTime = xs[index];
      this.placeCursor(index);
      this.announce(index);
    }
  }

  announce(index) {
    const values = this.labels
      .map((label, position) =>
        this.shown[position] ? `${label} ${this.format(this.data[position + 1][index] ?? null) || "no value"}` : null,
      )
      .filter((text) => text !== null);
    setText(this.announcer, `${formatTime(this.data[0][index])}: ${values.join(", ")}`);
  }

  zoom(center, factor) {
    const [from, to] = this.timeline.range();
    const half = ((to - from) * factor) / 2;
    this.onSelect(center - half, center + half);
  }

  nearestIndex(time) {
    const xs = this.data[0];
    let low = 0;
    let high = xs.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (xs[middle] < time) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low;
  }

  /** Puts the cursor on point `index` (on the first shown series with a value there), for every chart. */
  placeCursor(index) {
    const { chart } = this;
    if (index < 0 || index >= this.data[0].length) {
      return;
    }
    const column = this.shown.findIndex((shown, position) => shown && this.data[position + 1][index] !== null);
    const value = column < 0 ? null : this.data[column + 1][index];
    const top = value === null ? chart.over.clientHeight * HALF : chart.valToPos(value, "y");
    chart.setCursor({ left: chart.valToPos(this.data[0][index], "x"), top }, true, true);
  }

  destroy() {
    this.chart?.destroy();
    this.chart = null;
    this.axisWidth.forget(this);
  }
}
