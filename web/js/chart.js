/**
 * uPlot options for one chart: the series of one feed that share one unit, over a rolling time window.
 *
 * Options are plain data built by small functions (as in uPlot's own demos); this module only decides how a chart
 * looks and scales, never when it draws.
 */

import uPlot from "/vendor/uplot/uPlot.esm.js";
import { UNIT_PERCENT, axisValues, formatValue } from "./format.js";

export const CHART_HEIGHT_PX = 190;
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
const MILLISECONDS_PER_SECOND = 1000;
const MIN_SPAN_SECONDS = 10;

/**
 * Distinct, fairly light hues that stay readable on a dark background: [hue, saturation %, lightness %].
 * Every one is saturated enough that a line never reads as part of the grey grid.
 */
export const PALETTE = [
  [212, 90, 64],
  [28, 95, 60],
  [150, 62, 50],
  [340, 85, 66],
  [262, 85, 72],
  [48, 92, 56],
  [185, 75, 50],
  [4, 82, 62],
  [88, 62, 52],
  [300, 68, 68],
];
// Past the palette, hues are spread evenly round the wheel and neighbours alternate lightness, so that 20 or 40
// series still differ from their neighbours in the legend.
const SPREAD_HUE_OFFSET = 210;
const SPREAD_SATURATION = 80;
const SPREAD_LIGHTNESS = [62, 74];
const DEGREES = 360;

/** The CSS colour of a [hue, saturation, lightness] triple. */
export function hsl([hue, saturation, lightness], alpha = 1) {
  return `hsla(${hue.toFixed(1)}, ${saturation}%, ${lightness}%, ${alpha})`;
}

/** `count` colours as [hue, saturation, lightness] triples; the same count always gives the same colours. */
export function seriesHues(count) {
  if (count <= PALETTE.length) {
    return PALETTE.slice(0, count);
  }
  return Array.from({ length: count }, (unused, index) => [
    (SPREAD_HUE_OFFSET + (index * DEGREES) / count) % DEGREES,
    SPREAD_SATURATION,
    SPREAD_LIGHTNESS[index % SPREAD_LIGHTNESS.length],
  ]);
}

/** Chart colours come from CSS custom properties, so the stylesheet is the one place the theme lives. */
export function readTheme(element) {
  const style = getComputedStyle(element);
  const read = (name) => style.getPropertyValue(name).trim();
  return {
    axis: read("--chart-axis"),
    grid: read("--chart-grid"),
    font: read("--chart-font"),
  };
}

function timeRange(windowSeconds) {
  // The window ends at the newest tick rather than at the browser's clock: the chart moves with the data, and a
  // stalled feed visibly stops instead of scrolling away. Until a window's worth has arrived the chart spans what
  // there is (but at least a few seconds), so a fresh page shows shapes at once instead of a sliver at the edge.
  return (chart, dataMin, dataMax) => {
    if (dataMin === null || dataMax === null) {
      const now = Date.now() / MILLISECONDS_PER_SECOND;
      return [now - windowSeconds, now];
    }
    const span = Math.min(windowSeconds, Math.max(MIN_SPAN_SECONDS, dataMax - dataMin));
    return [dataMax - span, dataMax];
  };
}

function valueRange(unit) {
  return (chart, dataMin, dataMax) => {
    if (dataMin === null || dataMax === null) {
      return unit === UNIT_PERCENT ? PERCENT_RANGE : EMPTY_RANGE;
    }
    if (unit === UNIT_PERCENT) {
      // A fixed 0-100 keeps 3% looking small; it only widens for the rare value outside it.
      return [Math.min(PERCENT_RANGE[0], dataMin), Math.max(PERCENT_RANGE[1], dataMax)];
    }
    const [low, high] = uPlot.rangeNum(dataMin, dataMax, Y_PADDING_FRACTION, true);
    // Padding must not invent negative byte rates or volumes.
    return [dataMin >= 0 ? Math.max(0, low) : low, high];
  };
}

function axisSize(chart, values, axisIndex, cycle) {
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
  return Math.ceil(size / AXIS_SIZE_STEP_PX) * AXIS_SIZE_STEP_PX;
}

const clockTime = uPlot.fmtDate("{HH}:{mm}:{ss}");

function clockLabels(chart, splits) {
  return splits.map((seconds) => clockTime(new Date(seconds * MILLISECONDS_PER_SECOND)));
}

/**
 * Options for a chart of `labels` (one series each, in `unit`) over the last `windowSeconds`.
 * `hues` come from seriesHues; `theme` from readTheme. The legend is uPlot's: the series names with their
 * colours, clickable to hide a series, and the values under the cursor while hovering.
 */
export function chartOptions({ unit, labels, hues, width, height = CHART_HEIGHT_PX, windowSeconds, theme }) {
  const axis = {
    stroke: theme.axis,
    font: theme.font,
    grid: { stroke: theme.grid, width: 1 },
    ticks: { stroke: theme.grid, width: 1, size: TICK_SIZE_PX },
  };
  const fill = labels.length === 1;
  const lineWidth = labels.length > PALETTE.length ? CROWDED_LINE_WIDTH_PX : LINE_WIDTH_PX;
  return {
    width,
    height,
    cursor: {
      // The window keeps moving, so a drag-zoom would be undone by the next tick.
      drag: { x: false, y: false, setScale: false },
      points: { size: CURSOR_POINT_SIZE_PX },
    },
    legend: { live: true },
    scales: {
      x: { time: true, range: timeRange(windowSeconds) },
      y: { range: valueRange(unit) },
    },
    series: [
      {
        label: "Time",
        value: (chart, seconds) => (seconds === null ? "" : clockTime(new Date(seconds * MILLISECONDS_PER_SECOND))),
      },
      ...labels.map((label, index) => ({
        label,
        scale: "y",
        stroke: hsl(hues[index]),
        ...(fill ? { fill: hsl(hues[index], SINGLE_SERIES_FILL_ALPHA) } : {}),
        width: lineWidth,
        spanGaps: false,
        points: { show: false },
        // Blank when not hovering: the panel's readout already shows the latest values.
        value: (chart, value) => (value === null ? "" : formatValue(value, unit)),
      })),
    ],
    axes: [
      // One line of wall-clock time: uPlot's default adds the date under the first tick, noise for a minute's view.
      { ...axis, space: X_AXIS_SPACE_PX, values: clockLabels },
      { ...axis, scale: "y", space: Y_AXIS_SPACE_PX, values: axisValues(unit), size: axisSize },
    ],
  };
}

/** Draws a chart into `target`; `data` is uPlot's columnar [xs, ys...]. */
export function createChart(options, data, target) {
  return new uPlot(options, data, target);
}
