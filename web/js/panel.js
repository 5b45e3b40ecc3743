/**
 * One feed's panel: its header and connection state, one chart per unit, and the readout of latest values.
 *
 * Everything is built from the feed's entry in /api/feeds, so a feed the server adds later gets a panel with no
 * change here. A panel stores ticks as they come (`ingest`) and only touches charts and text when asked to
 * (`render`, `resize`), which main.js does at most once per animation frame.
 */

import { CHART_HEIGHT_PX, chartOptions, createChart, hsl, seriesHues } from "./chart.js";
import { FeedHistory, capacityFor } from "./data.js";
import { describeUnit, formatValue } from "./format.js";

export const State = Object.freeze({
  CONNECTING: "connecting",
  LIVE: "live",
  RECONNECTING: "reconnecting",
  // Connected and subscribed, but the feed itself fails: no data is coming, and the badge says so.
  FAILING: "failing",
  // The server refused the page's token, or it expired: no reconnecting until the page is opened again.
  SIGNED_OUT: "signed-out",
});

// A feed's own health, apart from the connection: see `status` in docs/protocol.md.
export const Health = Object.freeze({
  STARTING: "starting",
  OK: "ok",
  FAILING: "failing",
});

export const STATE_LABELS = Object.freeze({
  [State.CONNECTING]: "Connecting…",
  [State.LIVE]: "Live",
  [State.RECONNECTING]: "Reconnecting…",
  [State.FAILING]: "Feed failing",
  [State.SIGNED_OUT]: "Not signed in",
});

// A feed with more fields than this gets the whole row: its legend and readout need the width.
const WIDE_PANEL_FIELDS = 12;
const MILLISECONDS_PER_SECOND = 1000;

/**
 * Builds an element: `attributes` go through setAttribute, except `dataset`, `text` and `style` (an object of
 * properties, set through the CSSOM: the page's Content-Security-Policy refuses style attributes).
 */
export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") {
      node.textContent = value;
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "style") {
      for (const [property, propertyValue] of Object.entries(value)) {
        node.style.setProperty(property, propertyValue);
      }
    } else {
      node.setAttribute(name, value);
    }
  }
  node.append(...children);
  return node;
}

/** Shows `text` in a message element (a notice, an error, a health line), or hides it when `text` is null. */
export function showMessage(messageElement, text) {
  messageElement.textContent = text ?? "";
  messageElement.hidden = text === null;
}

/** A visible state: a dot and a label, with `data-state` for styles and tests. */
export function stateBadge(attributes = {}) {
  return element(
    "span",
    { class: "state", ...attributes },
    element("span", { class: "state__dot", "aria-hidden": "true" }),
    element("span", { class: "state__label" }),
  );
}

export function setBadgeState(badge, state) {
  badge.dataset.state = state;
  badge.querySelector(".state__label").textContent = STATE_LABELS[state];
}

/** What must match for an existing panel to carry on after a reconnect: the fields, their units and the rate. */
export function feedSignature(feed) {
  return JSON.stringify([feed.interval, feed.fields.map((field) => [field.name, field.unit])]);
}

function describeInterval(seconds) {
  return seconds < 1 ? `every ${Math.round(seconds * MILLISECONDS_PER_SECOND)} ms` : `every ${seconds} s`;
}

/** The feed's fields grouped by unit, in order of first appearance; each group becomes one chart. */
function groupByUnit(fields) {
  const groups = new Map();
  fields.forEach((field, column) => {
    if (!groups.has(field.unit)) {
      groups.set(field.unit, { unit: field.unit, columns: [], labels: [] });
    }
    const group = groups.get(field.unit);
    group.columns.push(column);
    group.labels.push(field.name);
  });
  // Colours are chosen per chart, so each chart gets the most distinct set for its own size, and charts of equal
  // size (a stock's price and volume) give the same subject the same colour.
  return [...groups.values()].map((group) => ({ ...group, hues: seriesHues(group.columns.length) }));
}

export class Panel {
  constructor(feed, { windowSeconds, theme }) {
    this.name = feed.name;
    this.signature = feedSignature(feed);
    this.fieldNames = feed.fields.map((field) => field.name);
    this.windowSeconds = windowSeconds;
    this.intervalSeconds = feed.interval;
    this.theme = theme;
    this.history = new FeedHistory(feed.fields.length, capacityFor(windowSeconds, feed.interval));
    this.groups = groupByUnit(feed.fields);
    this.subscribed = false;
    this.subscribing = false;
    this.state = null;
    this.health = null;
    this.charts = [];
    this.readoutValues = [];

    this.stateBadge = stateBadge();
    this.description = element("p", { class: "panel__description" });
    this.interval = element("span", { class: "panel__interval" });
    this.error = element("p", { class: "panel__error", role: "alert", hidden: "" });
    this.healthLine = element("p", { class: "panel__health", "data-testid": "health", hidden: "" });
    this.chartsElement = element("div", { class: "panel__charts" });
    this.readout = element("div", { class: "readout", "data-testid": "readout", "aria-live": "off" });
    this.element = element(
      "section",
      {
        class: feed.fields.length > WIDE_PANEL_FIELDS ? "panel panel--wide" : "panel",
        "data-testid": "panel",
        dataset: { feed: feed.name, interval: String(feed.interval), points: "0" },
        "aria-label": `${feed.name} feed`,
      },
      element(
        "header",
        { class: "panel__header" },
        element("div", { class: "panel__titles" }, element("h2", { class: "panel__title", text: feed.name }), this.description),
        element("div", { class: "panel__meta" }, this.interval, this.stateBadge),
      ),
      this.healthLine,
      this.error,
      this.chartsElement,
      this.readout,
    );
    this.describe(feed);
    this.buildReadout();
    this.setState(State.CONNECTING);
    this.setHealth(feed);
  }

  /** The parts of a feed that may change without a new panel. */
  describe(feed) {
    this.description.textContent = feed.description;
    this.interval.textContent = describeInterval(feed.interval);
  }

  buildReadout() {
    for (const group of this.groups) {
      const list = element("dl", { class: "readout__list" });
      group.columns.forEach((column, position) => {
        const value = element("dd", { class: "readout__value", text: formatValue(NaN, group.unit) });
        list.append(
          element(
            "div",
            { class: "readout__item" },
            element(
              "dt",
              { class: "readout__name" },
              element("span", { class: "swatch", style: { "--swatch": hsl(group.hues[position]) } }),
              element("span", { class: "readout__field", text: this.fieldNames[column], title: this.fieldNames[column] }),
            ),
            value,
          ),
        );
        this.readoutValues.push({ column, unit: group.unit, element: value, text: value.textContent });
      });
      this.readout.append(
        element("section", { class: "readout__group" }, element("h3", { text: describeUnit(group.unit) }), list),
      );
    }
  }

  /** Adds the panel to the page and draws its (empty) charts at the width it got there. */
  mount(parent) {
    parent.append(this.element);
    for (const group of this.groups) {
      const plot = element("div", { class: "chart__plot" });
      this.chartsElement.append(
        element(
          "figure",
          { class: "chart" },
          element("figcaption", { class: "chart__caption", text: describeUnit(group.unit) }),
          plot,
        ),
      );
      const data = [[], ...group.columns.map(() => [])];
      const options = chartOptions({
        unit: group.unit,
        labels: group.labels,
        hues: group.hues,
        width: plot.clientWidth,
        height: CHART_HEIGHT_PX,
        windowSeconds: this.windowSeconds,
        theme: this.theme,
      });
      this.charts.push({ group, plot, data, chart: createChart(options, data, plot) });
    }
  }

  setState(state) {
    this.state = state;
    this.renderState();
  }

  /** Shows the connection state, or `failing` while the connection is fine but the feed is not. */
  renderState() {
    const shown = this.subscribed && this.health === Health.FAILING ? State.FAILING : this.state;
    this.element.dataset.state = shown;
    setBadgeState(this.stateBadge, shown);
  }

  /** Shows the feed's health: nothing while it is fine, the last error and the count while it fails. */
  setHealth({ status, failures, error }) {
    this.health = status;
    this.element.dataset.health = status;
    if (status === Health.FAILING) {
      const count = failures === 1 ? "1 failure" : `${failures.toLocaleString()} failures`;
      showMessage(this.healthLine, `Feed failing (${count} so far): ${error}`);
    } else if (status === Health.STARTING && this.fieldNames.length === 0) {
      showMessage(this.healthLine, "Waiting for the feed's first sample…");
    } else {
      showMessage(this.healthLine, null);
    }
    this.renderState();
  }

  showError(text) {
    showMessage(this.error, text);
  }

  clearError() {
    showMessage(this.error, null);
  }

  /** Whether `fields` (from `subscribed`) is exactly the order this panel decodes values in. */
  matchesFields(fields) {
    return fields.length === this.fieldNames.length && fields.every((name, index) => name === this.fieldNames[index]);
  }

  /**
   * What to ask the server for when subscribing (docs/protocol.md, "History and resume"): the feed's held ticks
   * that fill the chart's window on a first subscription (or after an absence longer than the window), everything
   * after the last tick it has on a later one, so that a reconnect leaves no hole where the server still had the
   * data.
   */
  resumeFrom(now = Date.now() / MILLISECONDS_PER_SECOND) {
    const { lastRun, lastSeq, lastTs } = this.history;
    // Away longer than the window: what it missed would not be shown anyway; the window's worth will do.
    if (lastRun !== null && now - lastTs <= this.windowSeconds) {
      return { since: lastSeq, run: lastRun };
    }
    const { capacity } = this.history.ring;
    const windowTicks = this.intervalSeconds > 0 ? Math.ceil(this.windowSeconds / this.intervalSeconds) : capacity;
    return { history: Math.min(capacity, windowTicks) };
  }

  /** Stores a tick; false when it cannot be this feed's (wrong number of values). */
  ingest(tick) {
    if (tick.values.length !== this.fieldNames.length) {
      return false;
    }
    this.history.append(tick);
    return true;
  }

  render() {
    for (const { group, data, chart } of this.charts) {
      this.history.ring.copyInto(data, group.columns);
      chart.setData(data);
    }
    for (const cell of this.readoutValues) {
      const text = formatValue(this.history.latest[cell.column], cell.unit);
      if (text !== cell.text) {
        cell.text = text;
        cell.element.textContent = text;
      }
    }
    this.element.dataset.points = String(this.history.length);
    this.element.dataset.gaps = String(this.history.gaps);
    this.element.dataset.firstSeq = String(this.history.firstSeq);
  }

  resize() {
    for (const { plot, chart } of this.charts) {
      if (plot.clientWidth !== chart.width) {
        chart.setSize({ width: plot.clientWidth, height: CHART_HEIGHT_PX });
      }
    }
  }

  destroy() {
    for (const { chart } of this.charts) {
      chart.destroy();
    }
    this.charts = [];
    this.element.remove();
  }
}
