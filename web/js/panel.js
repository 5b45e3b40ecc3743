/**
 * One feed's panel: its header (connection state, freshness), one chart per unit, and the readout of latest values.
 *
 * Everything is built from the feed's entry in /api/feeds, so a feed the server adds later gets a panel with no
 * change here. How a unit is drawn follows from the unit: prices (`$`) as percent change from the start of the
 * view, with a quote table of latest price, change and sparkline; traded amounts (`shares`) as bars; everything
 * else as lines, min/max per pixel column. A panel stores ticks as they come (`ingest`) and only touches charts and
 * text when asked to (`render`, `resize`), which the page does at most once per animation frame (frames.js).
 * Whether its feed is subscribed is the page's to know (subscriptions.js): the panel only asks, to show it.
 */

import { AxisWidth, ChartKind, seriesStyle } from "./chart.js";
import { FeedHistory } from "./data.js";
import { element, setText, showMessage } from "./dom.js";
import { describeFeedName, feedNameNodes } from "./feedname.js";
import {
  UNIT_DOLLAR,
  UNIT_SHARES,
  describeUnit,
  formatAge,
  formatChange,
  formatMoment,
  formatValue,
} from "./format.js";
import { Plot, seriesMarker } from "./plot.js";
import { Sparkline } from "./sparkline.js";
import { STATE_LABELS, State, healthNotice, shownState } from "./states.js";
import { MILLISECONDS_PER_SECOND, PERCENT, SECONDS_PER_MINUTE } from "./units.js";

/** A feed silent for this many of its intervals (and at least STALE_MIN_MS) is stale. */
export const STALE_INTERVALS = 5;
export const STALE_MIN_MS = 1500;

// A feed with more fields than this gets the whole row: its legend and readout need the width.
const WIDE_PANEL_FIELDS = 12;
// Sparklines summarise; redrawing them once a second is plenty, and saves a path per symbol per tick.
const SPARKLINE_REFRESH_MS = 1000;
const SPARKLINE_WIDTH_PX = 96;
const SPARKLINE_HEIGHT_PX = 24;
// Readouts (latest values, the quote table) are written at most this often.
const READOUT_REFRESH_MS = 250;
// A bar chart of a view has about this many bars, each a round number of seconds wide.
const BARS_PER_VIEW = 60;
const BAR_SECONDS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
// History asked for on subscribing: a little more than the window, for ticks faster than the nominal interval.
const HISTORY_HEADROOM = 1.25;
// More than any server holds (36,000 ticks by default), and a whole number JSON carries exactly.
const MAX_HISTORY_TICKS = 2 ** 31;
const VOLUME_LABEL = "volume";

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

/** "AAPL" for "AAPL.price": the part of a field name before its last dot, which pairs a price with its volume. */
function subjectOf(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

function kindOf(unit) {
  if (unit === UNIT_DOLLAR) {
    return ChartKind.CHANGE;
  }
  return unit === UNIT_SHARES ? ChartKind.BARS : ChartKind.LINES;
}

/** The feed's fields grouped by unit, in order of first appearance; each group becomes one chart. */
function groupByUnit(fields) {
  const groups = new Map();
  fields.forEach((field, column) => {
    if (!groups.has(field.unit)) {
      groups.set(field.unit, { unit: field.unit, kind: kindOf(field.unit), columns: [], names: [], subjects: [] });
    }
    const group = groups.get(field.unit);
    group.columns.push(column);
    group.names.push(field.name);
    group.subjects.push(subjectOf(field.name));
  });
  return [...groups.values()];
}

function barSeconds(spanSeconds) {
  const wanted = spanSeconds / BARS_PER_VIEW;
  return BAR_SECONDS.find((seconds) => seconds >= wanted) ?? BAR_SECONDS[BAR_SECONDS.length - 1];
}

function caption(group) {
  switch (group.kind) {
    case ChartKind.CHANGE:
      return "Change since the start of the view";
    case ChartKind.BARS:
      return `${describeUnit(group.unit)} traded`;
    default:
      return describeUnit(group.unit);
  }
}

export class Panel {
  /**
   * `timeline.range()` is the page's time range; `outages()` its disconnected spans; `isHidden(feed, label, byDefault)`
   * and `onToggle(feed, label, shown, byDefault)` keep the legends in the page's view; `onSelect(from, to)` zooms every chart;
   * `isSubscribed()` says whether the feed's ticks are flowing to the panel (never, by default).
   */
  constructor(feed, { windowSeconds, timeline, outages, isHidden, onToggle, onSelect, isSubscribed = () => false }) {
    this.name = feed.name;
    this.signature = feedSignature(feed);
    this.fieldNames = feed.fields.map((field) => field.name);
    this.intervalSeconds = feed.interval;
    this.timeline = timeline;
    this.outages = outages;
    this.history = new FeedHistory(feed.fields.length, windowSeconds);
    // While the view is paused: what its charts draw (a copy of `history`, or a store of the paused range filled by
    // the server's history), so that the live ticks going on into `history` cannot push the paused range out.
    this.paused = null;
    this.pausedRange = null;
    this.groups = groupByUnit(feed.fields);
    this.isSubscribed = isSubscribed;
    this.state = null;
    this.health = null;
    this.lastArrival = -Infinity; // performance.now() of the newest tick's arrival
    this.replaying = 0; // held ticks the server is replaying, still to come
    this.drawnAt = -Infinity; // performance.now() when the charts last drew
    this.undrawnTs = null; // the ts of the oldest live tick the charts have not drawn yet
    this.renders = 0;
    this.plots = [];
    // The y axes of the panel's charts take one width, so that one instant is one vertical line down the panel.
    this.axisWidth = new AxisWidth();
    this.readoutValues = [];
    this.quotes = [];
    this.sparklinesDrawn = -Infinity;
    this.readoutsDrawn = -Infinity;
    this.theme = null;

    this.stateBadge = stateBadge();
    this.description = element("p", { class: "panel__description" });
    this.interval = element("span", { class: "panel__interval" });
    this.freshness = element("span", {
      class: "panel__freshness",
      "data-testid": "freshness",
      title: "How old the newest tick was when it was drawn",
    });
    this.error = element("p", { class: "panel__error", role: "alert", hidden: "" });
    this.healthLine = element("p", { class: "panel__health", "data-testid": "health", hidden: "" });
    // Paused on a range the server no longer holds (an old link): say so, rather than show empty charts.
    this.rangeNote = element("p", { class: "panel__health", "data-testid": "range-note", hidden: "" });
    this.rangeNoteShown = false;
    this.chartsElement = element("div", { class: "panel__charts" });
    this.readout = element("div", { class: "readout", "data-testid": "readout", "aria-live": "off" });
    // Paused, every figure of the readout is the paused range's: this says so, and at what time.
    this.readoutNote = element("p", { class: "readout__note", "data-testid": "readout-note", hidden: "" });
    this.readout.append(this.readoutNote);
    this.pausedLatest = new Float64Array(feed.fields.length); // each field's value at the paused range's end
    this.allColumns = feed.fields.map((field, column) => column);
    const titles = element(
      "div",
      { class: "panel__titles" },
      // A per-host feed (system@node-1) is titled with the feed's name and its host beside it.
      element("h2", { class: "panel__title" }, ...feedNameNodes(feed.name)),
      this.description,
    );
    if (feed.simulated) {
      titles.firstChild.append(element("span", { class: "tag", "data-testid": "simulated", text: "Simulated data" }));
    }
    this.element = element(
      "section",
      {
        class: feed.fields.length > WIDE_PANEL_FIELDS ? "panel panel--wide" : "panel",
        "data-testid": "panel",
        dataset: {
          feed: feed.name,
          interval: String(feed.interval),
          window: String(windowSeconds),
          points: "0",
          renders: "0",
        },
        "aria-label": describeFeedName(feed.name),
      },
      element(
        "header",
        { class: "panel__header" },
        titles,
        element("div", { class: "panel__meta" }, this.interval, this.freshness, this.stateBadge),
      ),
      this.healthLine,
      this.rangeNote,
      this.error,
      this.chartsElement,
      this.readout,
    );
    for (const group of this.groups) {
      const labels =
        group.kind === ChartKind.BARS ? [VOLUME_LABEL] : group.kind === ChartKind.CHANGE ? group.subjects : group.names;
      const format = group.kind === ChartKind.CHANGE ? formatChange : (value) => formatValue(value, group.unit);
      const plot = new Plot({
        kind: group.kind,
        unit: group.unit,
        caption: caption(group),
        labels,
        format: (value) => (value === null ? "" : format(value)),
        timeline,
        outages,
        isHidden: (label, byDefault) => isHidden(this.name, label, byDefault),
        onToggle: (label, shown, byDefault) => onToggle(this.name, label, shown, byDefault),
        onSelect,
        axisWidth: this.axisWidth,
      });
      this.plots.push({ group, plot, bases: new Float64Array(group.columns.length) });
      this.chartsElement.append(plot.element);
    }
    // The change chart, if any: its legend decides which volumes the bars add up, its bases the quotes' change.
    this.priced = this.plots.find(({ group }) => group.kind === ChartKind.CHANGE) ?? null;
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
    const priced = this.groups.find((group) => group.kind === ChartKind.CHANGE);
    if (priced !== undefined) {
      this.buildQuotes(priced);
    }
    for (const group of this.groups) {
      if (group.kind !== ChartKind.LINES) {
        continue;
      }
      const list = element("dl", { class: "readout__list" });
      group.columns.forEach((column, position) => {
        const value = element("dd", { class: "readout__value", text: formatValue(NaN, group.unit) });
        const name = this.fieldNames[column];
        list.append(
          element(
            "div",
            { class: "readout__item" },
            element(
              "dt",
              { class: "readout__name" },
              seriesMarker(position),
              element("span", { class: "readout__field", text: name, title: name }),
            ),
            value,
          ),
        );
        this.readoutValues.push({ column, unit: group.unit, element: value });
      });
      this.readout.append(
        element("section", { class: "readout__group" }, element("h3", { text: describeUnit(group.unit) }), list),
      );
    }
  }

  /** The quote table: per priced subject, its latest price, change over the view, sparkline and volume. */
  buildQuotes(priced) {
    const volumes = new Map();
    this.groups
      .filter((group) => group.kind === ChartKind.BARS)
      .forEach((group) => group.columns.forEach((column, position) => volumes.set(group.subjects[position], column)));
    const body = element("tbody");
    priced.columns.forEach((column, position) => {
      const subject = priced.subjects[position];
      // A sparkline is drawn in the colour its symbol has on the chart.
      const sparkline = new Sparkline({
        width: SPARKLINE_WIDTH_PX,
        height: SPARKLINE_HEIGHT_PX,
        color: seriesStyle(position).color,
      });
      const cells = {
        price: element("td", { class: "quotes__number", text: formatValue(NaN, UNIT_DOLLAR) }),
        change: element("td", { class: "quotes__number quotes__change", text: formatChange(NaN) }),
        volume: element("td", { class: "quotes__number", text: formatValue(NaN, UNIT_SHARES) }),
        spark: element("td", { class: "quotes__spark" }, sparkline.element),
      };
      body.append(
        element(
          "tr",
          { dataset: { subject } },
          element("th", { scope: "row" }, seriesMarker(position), element("span", { text: subject })),
          cells.price,
          cells.change,
          cells.spark,
          cells.volume,
        ),
      );
      this.quotes.push({
        column,
        position,
        volumeColumn: volumes.get(subject) ?? null,
        cells,
        data: [[], []],
        sparkline,
      });
    });
    const head = element(
      "thead",
      {},
      element(
        "tr",
        {},
        element("th", { scope: "col", text: "Symbol" }),
        // Numbers are right-aligned, and so are their headers.
        element("th", { scope: "col", class: "quotes__number", text: "Price" }),
        element("th", { scope: "col", class: "quotes__number", text: "Change" }),
        element("th", { scope: "col", class: "quotes__spark", text: "Trend" }),
        element("th", { scope: "col", class: "quotes__number", text: "Volume" }),
      ),
    );
    this.readout.append(element("table", { class: "quotes", "data-testid": "quotes" }, head, body));
  }

  /** Adds the panel to the page and draws its (empty) charts at the width it got there. */
  mount(parent, theme) {
    parent.append(this.element);
    this.setTheme(theme);
  }

  /** (Re)builds every chart in `theme`'s colours (the sparklines take theirs from the stylesheet). */
  setTheme(theme) {
    this.theme = theme;
    for (const { plot } of this.plots) {
      plot.build(theme);
    }
  }

  /** Starts over with a window of `windowSeconds`: the ticks come again, from the server's history. */
  setWindow(windowSeconds) {
    this.history = new FeedHistory(this.fieldNames.length, windowSeconds);
    this.element.dataset.window = String(windowSeconds);
    this.renderCounts(); // at once: what the panel holds is now nothing, whatever the next frame draws
  }

  setState(state) {
    this.state = state;
    this.renderState();
  }

  /** Shows the connection state, or the feed's health while the connection is fine but the feed is failing or stale. */
  renderState() {
    const shown = shownState(this.state, this.health, this.isSubscribed());
    this.element.dataset.state = shown;
    setBadgeState(this.stateBadge, shown);
  }

  /** The state the badge shows now (`renderState`). */
  get shown() {
    return this.element.dataset.state;
  }

  /**
   * Shows the feed's health: nothing while it is fine, the server's reason while it fails or is stale. Not the count
   * of failures: the server pushes a status when the error changes, not on each failure, so the count it carries is
   * soon old.
   */
  setHealth({ status, error }) {
    this.health = status;
    this.element.dataset.health = status;
    showMessage(this.healthLine, healthNotice(status, error, this.fieldNames.length > 0));
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
   * that fill the window on a first subscription (or after an absence longer than the window), everything after
   * the last tick it has on a later one, so that a reconnect leaves no hole where the server still had the data.
   */
  resumeFrom(now = Date.now() / MILLISECONDS_PER_SECOND) {
    const { lastRun, lastSeq, lastTs, windowSeconds } = this.history;
    // Away longer than the window: what it missed would not be shown anyway; the window's worth will do.
    if (lastRun !== null && now - lastTs <= windowSeconds) {
      return { since: lastSeq, run: lastRun };
    }
    // A view paused on a range it does not hold (a link to a past range) needs the ticks back to its start, as far
    // as the server holds them.
    const lacksRange = this.paused !== null && this.paused.firstTs > this.pausedRange[0];
    const reach = lacksRange ? Math.max(windowSeconds, now - this.pausedRange[0]) : windowSeconds;
    return { history: Math.min(MAX_HISTORY_TICKS, Math.ceil((reach / this.intervalSeconds) * HISTORY_HEADROOM)) };
  }

  /**
   * The view pauses on [from, to] (or moves its paused range): the charts draw from a copy of what the panel
   * holds, which later ticks cannot push out. The copy is taken again while the live history still reaches back
   * to the range (a zoom out then finds every tick since the pause); once it does not, the copy is kept. A panel
   * that holds nothing yet (a link to a paused range) fills a store of the range from the ticks to come.
   */
  pause([from, to]) {
    if (this.history.length > 0 && (this.paused === null || this.history.firstTs <= from)) {
      this.paused = this.history.clone();
    } else if (this.paused === null) {
      this.paused = FeedHistory.forRange(this.fieldNames.length, this.history.windowSeconds, [from, to]);
    }
    this.pausedRange = [Math.min(from, this.pausedRange?.[0] ?? from), Math.max(to, this.pausedRange?.[1] ?? to)];
  }

  goLive() {
    this.paused = null;
    this.pausedRange = null;
  }

  /** What the charts draw: the paused store while the view is paused, else the live history. */
  get drawn() {
    return this.paused ?? this.history;
  }

  /** Stores a tick; false when it cannot be this feed's (wrong number of values). */
  ingest(tick, arrival = performance.now()) {
    if (tick.values.length !== this.fieldNames.length) {
      return false;
    }
    this.history.append(tick);
    if (this.replaying > 0) {
      this.replaying--; // old by nature: its age says nothing of how fast the page draws
    } else {
      this.undrawnTs ??= tick.ts;
    }
    // A paused store takes what it may draw (up to a bucket past its range, where its lines run to the edge).
    if (this.paused !== null && tick.ts <= this.pausedRange[1] + this.paused.ring.bucketSeconds) {
      this.paused.append(tick);
    }
    this.lastArrival = arrival;
    return true;
  }

  /** The next `count` ticks are the server's replay of held ones (see `subscribed` in docs/protocol.md). */
  expectReplay(count) {
    this.replaying = count ?? 0;
  }

  /** Whether the feed has been silent for several of its intervals at `now` (performance.now()). */
  isSilent(now) {
    const limit = Math.max(STALE_MIN_MS, STALE_INTERVALS * this.intervalSeconds * MILLISECONDS_PER_SECOND);
    return now - this.lastArrival > limit;
  }

  /**
   * Draws the panel for the time range [from, to]: the charts (unless `charts` is false: a paused view whose
   * range did not change), then the readouts (live, the newest values; paused, the values at the range's end, so
   * that no figure of the panel contradicts its charts) and the freshness, which follows the newest tick even while
   * paused.
   */
  render([from, to], { charts = true, now = Date.now() } = {}) {
    const ring = this.drawn.ring;
    // Draws and readouts are timed on the monotonic clock: `now` follows the server's clock, whose offset may jump.
    const clock = performance.now();
    if (charts) {
      for (const { group, plot, bases } of this.plots) {
        if (group.kind === ChartKind.BARS) {
          const columns = group.columns.filter((column, position) => this.isSubjectShown(group.subjects[position]));
          const seconds = barSeconds(to - from);
          ring.fillBars(plot.data, columns, from, to, seconds);
          plot.setNote(`per ${seconds < SECONDS_PER_MINUTE ? `${seconds} s` : `${seconds / SECONDS_PER_MINUTE} min`}`);
        } else if (group.kind === ChartKind.CHANGE) {
          ring.firstValues(from, to, group.columns, bases);
          ring.fillLines(plot.data, group.columns, from, to, bases);
        } else {
          ring.fillLines(plot.data, group.columns, from, to);
        }
        plot.draw();
      }
      // Each chart asked for the width its labels need as it drew; those drawn before the widest take its width now.
      for (const { plot } of this.plots) {
        plot.alignAxis();
      }
      this.drawnAt = clock;
      // The age of the oldest live tick this draw shows for the first time (`data-oldest-age-ms`): what waited longest.
      if (this.undrawnTs === null || now === null) {
        delete this.element.dataset.oldestAgeMs; // none new, or the server's time not known yet to age it by
        this.undrawnTs = null;
      } else {
        const waited = Math.max(0, now - this.undrawnTs * MILLISECONDS_PER_SECOND);
        this.element.dataset.oldestAgeMs = String(Math.round(waited));
        this.undrawnTs = null;
      }
    }
    this.renderRangeNote(); // also when only the readouts are drawn: a paused view's charts stay as they are
    // Numbers that change 20 times a second cannot be read; a few times a second they can, and cost less layout.
    const readouts = clock - this.readoutsDrawn >= READOUT_REFRESH_MS;
    if (readouts) {
      this.readoutsDrawn = clock;
      const latest = this.latestIn(from, to);
      for (const cell of this.readoutValues) {
        setText(cell.element, formatValue(latest[cell.column], cell.unit));
      }
      this.renderQuotes(from, to, clock, latest);
    }
    this.renderFreshness(now, { text: readouts });
    this.renders++;
    this.element.dataset.renders = String(this.renders);
    this.renderCounts();
  }

  /** Each field's latest value: the newest tick's while live, its last in [from, to] while paused. */
  latestIn(from, to) {
    if (this.paused === null) {
      showMessage(this.readoutNote, null);
      return this.history.latest;
    }
    const what = this.quotes.length > 0 ? "prices" : "values";
    const over = this.quotes.length > 0 ? "; change, trend and volume over the paused range" : "";
    const end = formatMoment(to, Date.now() / MILLISECONDS_PER_SECOND);
    showMessage(this.readoutNote, `Paused: ${what} at ${end}, the range's end${over}.`);
    return this.paused.ring.lastValues(from, to, this.allColumns, this.pausedLatest);
  }

  /** Whether the paused range turned out to hold nothing: subscribed, the server's replay all in, no tick in it. */
  renderRangeNote() {
    const empty = this.paused !== null && this.paused.length === 0 && this.isSubscribed() && this.replaying === 0;
    if (empty !== this.rangeNoteShown) {
      this.rangeNoteShown = empty;
      const text = "Nothing held for this range: the server keeps only its recent history.";
      showMessage(this.rangeNote, empty ? text : null);
    }
  }

  /** What the panel holds, in data attributes (for tests and the page benchmark). */
  renderCounts() {
    this.element.dataset.points = String(this.history.length);
    this.element.dataset.pausedPoints = String(this.paused?.length ?? 0);
    this.element.dataset.gaps = String(this.history.gaps);
    this.element.dataset.firstSeq = String(this.history.firstSeq);
  }

  /** Whether the priced series of `subject` is shown on its chart (volumes follow what the reader looks at). */
  isSubjectShown(subject) {
    if (this.priced === null) {
      return true;
    }
    const index = this.priced.group.subjects.indexOf(subject);
    return index < 0 || this.priced.plot.shown[index];
  }

  /** The quote table: `latest` holds each field's value at the end of what the charts show. */
  renderQuotes(from, to, clock, latest) {
    if (this.quotes.length === 0) {
      return;
    }
    const ring = this.drawn.ring;
    const redrawSparklines = clock - this.sparklinesDrawn >= SPARKLINE_REFRESH_MS;
    // A new run (a restarted server) is a new baseline: change, volume and sparkline cover the newest run only.
    const runFrom = ring.lastRunStart(from, to);
    this.runBases ??= new Float64Array(this.priced.bases.length);
    const { columns } = this.priced.group;
    const bases = runFrom === from ? this.priced.bases : ring.firstValues(runFrom, to, columns, this.runBases);
    for (const quote of this.quotes) {
      const price = latest[quote.column];
      const base = bases[quote.position];
      setText(quote.cells.price, formatValue(price, UNIT_DOLLAR));
      const change = ((price - base) / base) * PERCENT;
      setText(quote.cells.change, formatChange(change));
      quote.cells.change.dataset.sign = Number.isNaN(change) ? "none" : Math.sign(change) >= 0 ? "up" : "down";
      if (quote.volumeColumn !== null) {
        setText(quote.cells.volume, formatValue(ring.total(quote.volumeColumn, runFrom, to), UNIT_SHARES));
      }
      if (redrawSparklines) {
        ring.fillLines(quote.data, [quote.column], runFrom, to);
        quote.sparkline.draw(quote.data[0], quote.data[1], from, to);
      }
    }
    if (redrawSparklines) {
      this.sparklinesDrawn = clock;
    }
  }

  /**
   * The age of the newest tick now, tick `ts` to this frame (in `data-age-ms` at every draw, in words when `text`);
   * "silent for" once the feed has gone stale.
   */
  renderFreshness(now = Date.now(), { text = true } = {}) {
    const { lastTs } = this.history;
    if (!Number.isFinite(lastTs) || now === null) {
      setText(this.freshness, ""); // no tick yet, or the server's time not known yet: nothing rather than a guess
      return;
    }
    const age = Math.max(0, now - lastTs * MILLISECONDS_PER_SECOND);
    this.element.dataset.ageMs = String(Math.round(age));
    if (!text) {
      return;
    }
    setText(this.freshness, this.shown === State.STALE ? `silent for ${formatAge(age)}` : `${formatAge(age)} old`);
  }

  resize() {
    for (const { plot } of this.plots) {
      plot.resize();
    }
  }

  destroy() {
    for (const { plot } of this.plots) {
      plot.destroy();
    }
    this.plots = [];
    this.element.remove();
  }
}
