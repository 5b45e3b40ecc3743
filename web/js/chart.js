/**
 * uPlot options for the page's charts: lines of one unit, percent changes and bars, over the page's
 * shared time range.
 *
 * Options are plain data built by small functions (as in uPlot's own demos); this module only decides how a chart
 * looks and scales, never when it draws. Every chart of the page shares one cursor (uPlot's cursor sync) and one
 * time range (`timeline.range()`), so the crosshair and the shaded outages line up from panel to panel.
 */

import uPlot from "/vendor/uplot/uPlot.esm.js";
import { UNIT_PERCENT, axisValues, formatChange, formatValue } from "./format.js";
import { PALETTE_SIZE, seriesStyle } from "./series.js";
import { MILLISECONDS_PER_SECOND } from "./units.js";

export { DASHES, PALETTE_SIZE, seriesStyle } from "./series.js";

export const CHART_HEIGHT_PX = 190;
export const SYNC_KEY = "dashboard";

export const ChartKind = Object.freeze({
  LINES: "lines",
  CHANGE: "change",
  BARS: "bars",
});

const LINE_WIDTH_PX = 1.5;
// Past the palette's size lines crowd each other; thinner ones keep the crowd legible.
const CROWDED_LINE_WIDTH_PX = 1;
const CURSOR_POINT_SIZE_PX = 7;
const X_AXIS_SPACE_PX = 70;
const Y_AXIS_SPACE_PX = 36;
// Y axis widths are rounded up to a step so that the plot does not shift a pixel whenever a label grows a digit.
const AXIS_SIZE_STEP_PX = 8;
const TICK_SIZE_PX = 4;
const Y_PADDING_FRACTION = 0.1;
const PERCENT_RANGE = [0, 100];
const EMPTY_RANGE = [0, 1];
// Shading under a lone series helps the eye; under several it only muddies the lines.
const SINGLE_SERIES_FILL_ALPHA = 0.12;
const BAR_FILL_ALPHA = 0.55;
// Bars take this share of their slot, and never more than this many pixels.
const BAR_SIZE = [0.8, 24];
// A drag narrower than this is a click, not a zoom.
const MIN_SELECTION_PX = 4;

/** Chart colours come from CSS custom properties, so the stylesheet is the one place the theme lives. */
export function readTheme(element) {
  const style = getComputedStyle(element);
  const read = (name) => style.getPropertyValue(name).trim();
  return {
    axis: read("--chart-axis"),
    grid: read("--chart-grid"),
    font: read("--chart-font"),
    band: read("--chart-band"),
    cursor: read("--chart-cursor"),
    series: Array.from({ length: PALETTE_SIZE }, (unused, index) => read(`--series-${index}`)),
  };
}

/** `#rrggbb` with an alpha, as rgba(). */
export function withAlpha(hex, alpha) {
  const value = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(value >> 16) & 255}, ${(value >> 8) & 255}, ${value & 255}, ${alpha})`;
}

function valueRange(kind, unit) {
  return (chart, dataMin, dataMax) => {
    if (dataMin === null || dataMax === null) {
      return unit === UNIT_PERCENT && kind === ChartKind.LINES ? PERCENT_RANGE : EMPTY_RANGE;
    }
    if (kind === ChartKind.LINES && unit === UNIT_PERCENT) {
      // A fixed 0-100 keeps 3% looking small; it only widens for the rare value outside it.
      return [Math.min(PERCENT_RANGE[0], dataMin), Math.max(PERCENT_RANGE[1], dataMax)];
    }
    if (kind === ChartKind.CHANGE) {
      // Zero stays in view: above or below the window's start is what a change chart tells.
      return uPlot.rangeNum(Math.min(0, dataMin), Math.max(0, dataMax), Y_PADDING_FRACTION, true);
    }
    const [low, high] = uPlot.rangeNum(dataMin, dataMax, Y_PADDING_FRACTION, true);
    // Padding must not invent negative byte rates or volumes; bars stand on zero.
    return [kind === ChartKind.BARS ? 0 : dataMin >= 0 ? Math.max(0, low) : low, high];
  };
}

/**
 * The y-axis width of the charts of one panel: the widest any of them needs, so that every plot of the panel starts
 * at the same x and one instant is one vertical line down the panel (the shared cursor runs straight).
 */
export class AxisWidth {
  #wanted = new Map(); // a chart's key -> the width its own labels need, in CSS pixels

  /** `key`'s labels need `px`: the width every chart of the panel is to take, `px` or more. */
  want(key, px) {
    this.#wanted.set(key, px);
    return this.px;
  }

  /** `key` is gone (destroyed, or built again): its labels no longer count. */
  forget(key) {
    this.#wanted.delete(key);
  }

  get px() {
    let widest = 0;
    for (const px of this.#wanted.values()) {
      widest = Math.max(widest, px);
    }
    return widest;
  }
}

/** A y-axis `size`: what its widest label needs, rounded up to a step, then widened by `shared` to the panel's. */
function axisSize(shared) {
  return (chart, values, axisIndex, cycle) => {
    const axis = chart.axes[axisIndex];
    if (cycle > 1) {
      return axis._size;
    }
    let size = axis.ticks.size + axis.gap;
    const longest = (values ?? []).reduce((widest, value) => (value.length > widest.length ? value : widest), "");
    if (longest !== "") {
      chart.ctx.font = axis.font[0];
      size += chart.ctx.measureText(longest).width / uPlot.pxRatio;
    }
    return shared(Math.ceil(size / AXIS_SIZE_STEP_PX) * AXIS_SIZE_STEP_PX);
  };
}

const clockTime = uPlot.fmtDate("{HH}:{mm}:{ss}");

/** A tick time (Unix seconds) as wall-clock time: "14:03:27". */
export function formatTime(seconds) {
  return clockTime(new Date(seconds * MILLISECONDS_PER_SECOND));
}

function clockLabels(chart, splits) {
  return splits.map(formatTime);
}

/**
 * Shades each span `outages()` gives ([from, to] in seconds): when the page was disconnected. `onBands` hears the
 * spans drawn, in CSS pixels across the plot (for tests and the page benchmark).
 */
function outagePlugin(outages, theme, onBands) {
  return {
    hooks: {
      drawClear: [
        (chart) => {
          const { ctx, bbox } = chart;
          const width = bbox.width / uPlot.pxRatio;
          const bands = [];
          ctx.save();
          ctx.fillStyle = theme.band;
          for (const [from, to] of outages()) {
            const left = Math.max(0, chart.valToPos(from, "x"));
            const right = Math.min(width, chart.valToPos(to, "x"));
            if (right > left) {
              ctx.fillRect(bbox.left + left * uPlot.pxRatio, bbox.top, (right - left) * uPlot.pxRatio, bbox.height);
              bands.push([Math.round(left), Math.round(right)]);
            }
          }
          ctx.restore();
          onBands(bands);
        },
      ],
    },
  };
}

function valueFormatter(kind, unit) {
  return kind === ChartKind.CHANGE
    ? (chart, value) => (value === null ? "" : formatChange(value))
    : (chart, value) => (value === null ? "" : formatValue(value, unit));
}

function yAxisValues(kind, unit) {
  if (kind === ChartKind.CHANGE) {
    return (chart, splits) => splits.map((split) => formatChange(split));
  }
  return axisValues(unit);
}

/**
 * Options for one chart. `labels` name its series; `timeline.range()` gives the time range to show; `outages()`
 * the disconnected spans to shade, and `onBands(bands)` hears where they were drawn; `onSelect(from, to)` is called when the reader drags across a range;
 * `yAxisWidth(px)` turns the y-axis width the chart's own labels need into the one it takes (the widest of its
 * panel's, see AxisWidth); `hooks` are more uPlot hooks (the panel's legend and tooltip follow the cursor through
 * `setCursor`).
 */
export function chartOptions({
  kind,
  unit,
  labels,
  width,
  height = CHART_HEIGHT_PX,
  theme,
  timeline,
  outages = () => [],
  onBands = () => {},
  onSelect = () => {},
  yAxisWidth = (px) => px,
  hooks = {},
}) {
  const axis = {
    stroke: theme.axis,
    font: theme.font,
    grid: { stroke: theme.grid, width: 1 },
    ticks: { stroke: theme.grid, width: 1, size: TICK_SIZE_PX },
  };
  const fill = labels.length === 1 && kind !== ChartKind.BARS;
  const lineWidth = labels.length > PALETTE_SIZE ? CROWDED_LINE_WIDTH_PX : LINE_WIDTH_PX;
  const format = valueFormatter(kind, unit);
  return {
    width,
    height,
    // Every chart draws its own legend (buttons, in the panel) and tooltip.
    legend: { show: false },
    cursor: {
      sync: { key: SYNC_KEY, scales: ["x", null] },
      // A horizontal line would sit at the same height on every synced chart, whatever their units: only time.
      y: false,
      // A drag selects a time range, which the dashboard turns into a paused view of every chart.
      drag: { x: true, y: false, setScale: false },
      points: { size: CURSOR_POINT_SIZE_PX },
    },
    scales: {
      x: { time: true, range: () => timeline.range() },
      y: { range: valueRange(kind, unit) },
    },
    series: [
      { label: "Time", value: (chart, seconds) => (seconds === null ? "" : formatTime(seconds)) },
      ...labels.map((label, index) => {
        const style = seriesStyle(index);
        const color = theme.series[style.color];
        if (kind === ChartKind.BARS) {
          return {
            label,
            stroke: color,
            fill: withAlpha(color, BAR_FILL_ALPHA),
            width: 1,
            paths: uPlot.paths.bars({ size: BAR_SIZE }),
            points: { show: false },
            value: format,
          };
        }
        return {
          label,
          scale: "y",
          stroke: color,
          ...(fill ? { fill: withAlpha(color, SINGLE_SERIES_FILL_ALPHA) } : {}),
          width: lineWidth,
          dash: style.dash,
          spanGaps: false,
          points: { show: false },
          value: format,
        };
      }),
    ],
    axes: [
      // One line of wall-clock time: uPlot's default adds the date under the first tick, noise for a view.
      { ...axis, space: X_AXIS_SPACE_PX, values: clockLabels },
      { ...axis, scale: "y", space: Y_AXIS_SPACE_PX, values: yAxisValues(kind, unit), size: axisSize(yAxisWidth) },
    ],
    plugins: [outagePlugin(outages, theme, onBands)],
    hooks: {
      ...hooks,
      setSelect: [
        (chart) => {
          const { left, width: selected } = chart.select;
          if (selected >= MIN_SELECTION_PX) {
            onSelect(chart.posToVal(left, "x"), chart.posToVal(left + selected, "x"));
          }
          chart.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        },
      ],
    },
  };
}

/** Draws a chart into `target`; `data` is uPlot's columnar [xs, ys...]. */
export function createChart(options, data, target) {
  return new uPlot(options, data, target);
}
