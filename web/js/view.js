/**
 * What the page shows, as one small object kept in the URL, so that a link (or a reload) shows the same view:
 * the time window, the paused range if any, the series hidden from their legends (and, on a crowded chart whose
 * series start hidden, those shown), and the feeds shown.
 *
 *   ?window=5m&from=1764694800.5&to=1764694830&hide=system:cpu0,stocks:AAPL&show=stocks50:META&feeds=system
 *
 * `from` and `to` are Unix seconds (the ticks' `ts`); without them the view is live. Without `feeds` every feed
 * is shown. Names are URI-encoded, so a field name with a comma or a colon survives the trip.
 */

export const WINDOWS = Object.freeze([
  { key: "1m", seconds: 60, label: "1 min" },
  { key: "5m", seconds: 300, label: "5 min" },
  { key: "15m", seconds: 900, label: "15 min" },
  { key: "1h", seconds: 3600, label: "1 h" },
]);
export const DEFAULT_WINDOW = WINDOWS[0];

const PARAMETERS = Object.freeze({
  WINDOW: "window",
  FROM: "from",
  TO: "to",
  HIDE: "hide",
  SHOW: "show",
  FEEDS: "feeds",
});
const LIST_SEPARATOR = ",";
const SERIES_SEPARATOR = ":";
// The view of the last page in this tab, for a link without one (the dashboard's bare address).
const STORAGE_KEY = "dashboard.view";

/** The key of one series in `hide`: its feed and its label. */
export function seriesKey(feed, label) {
  return `${feed}${SERIES_SEPARATOR}${label}`;
}

/**
 * The items of list parameter `name`, read from the raw query string: the items are URI-encoded one by one and
 * joined by commas, so they must be split before they are decoded. An item that does not decode is dropped.
 */
function parseList(search, name) {
  const items = [];
  for (const pair of search.replace(/^\?/, "").split("&")) {
    const equals = pair.indexOf("=");
    if (equals < 0 || pair.slice(0, equals) !== name) {
      continue;
    }
    for (const part of pair.slice(equals + 1).split(LIST_SEPARATOR)) {
      try {
        const item = decodeURIComponent(part.replaceAll("+", " "));
        if (item !== "") {
          items.push(item);
        }
      } catch {
        // A malformed escape (a lone %): not a name the page ever wrote.
      }
    }
  }
  return items;
}

/** A time in Unix seconds from the URL, or NaN when it is missing, empty or not a number. */
function parseTime(text) {
  return text === null || text.trim() === "" ? NaN : Number(text);
}

function formatList(items) {
  return [...items].map((item) => encodeURIComponent(item)).join(LIST_SEPARATOR);
}

export class View {
  constructor({ window = DEFAULT_WINDOW, range = null, hidden = new Set(), shown = new Set(), feeds = null } = {}) {
    this.window = window;
    this.range = range; // [from, to] in seconds while paused, null while live
    this.hidden = hidden; // series keys
    this.shown = shown; // series keys of series that start hidden (on a crowded chart) but were turned on
    this.feeds = feeds; // a Set of the feed names shown, or null for every feed
  }

  get paused() {
    return this.range !== null;
  }

  /** Reads a view from a query string; whatever is missing or malformed takes its default. */
  static parse(search) {
    const params = new URLSearchParams(search);
    const window = WINDOWS.find((each) => each.key === params.get(PARAMETERS.WINDOW)) ?? DEFAULT_WINDOW;
    const from = parseTime(params.get(PARAMETERS.FROM));
    const to = parseTime(params.get(PARAMETERS.TO));
    const range = Number.isFinite(from) && Number.isFinite(to) && from < to ? [from, to] : null;
    const feeds = params.has(PARAMETERS.FEEDS) ? new Set(parseList(search, PARAMETERS.FEEDS)) : null;
    return new View({
      window,
      range,
      hidden: new Set(parseList(search, PARAMETERS.HIDE)),
      shown: new Set(parseList(search, PARAMETERS.SHOW)),
      feeds,
    });
  }

  /** Whether `search` says anything about the view (else the tab's last view applies). */
  static isIn(search) {
    const params = new URLSearchParams(search);
    return Object.values(PARAMETERS).some((name) => params.has(name));
  }

  /** `search` with this view's parameters in place of any it had; other parameters are kept. */
  toSearch(search) {
    const params = new URLSearchParams(search);
    for (const name of Object.values(PARAMETERS)) {
      params.delete(name);
    }
    if (this.window !== DEFAULT_WINDOW) {
      params.set(PARAMETERS.WINDOW, this.window.key);
    }
    if (this.range !== null) {
      params.set(PARAMETERS.FROM, String(this.range[0]));
      params.set(PARAMETERS.TO, String(this.range[1]));
    }
    // URLSearchParams would encode the separators too; the lists are joined by hand from encoded items.
    let text = params.toString();
    const lists = [
      [PARAMETERS.HIDE, this.hidden.size > 0 ? formatList(this.hidden) : null],
      [PARAMETERS.SHOW, this.shown.size > 0 ? formatList(this.shown) : null],
      [PARAMETERS.FEEDS, this.feeds === null ? null : formatList(this.feeds)],
    ];
    for (const [name, value] of lists) {
      if (value !== null) {
        text += `${text === "" ? "" : "&"}${name}=${value}`;
      }
    }
    return text === "" ? "" : `?${text}`;
  }

  /** Whether a series is hidden; `byDefault` for one that starts hidden unless turned on. */
  isSeriesHidden(key, byDefault) {
    return byDefault ? !this.shown.has(key) : this.hidden.has(key);
  }

  setSeriesShown(key, shown, byDefault) {
    const exceptions = byDefault ? this.shown : this.hidden;
    if (shown === byDefault) {
      exceptions.add(key);
    } else {
      exceptions.delete(key);
    }
  }

  isShown(feed) {
    return this.feeds === null || this.feeds.has(feed);
  }
}

/** The view to start with: the URL's, or the tab's last one when the URL has none. */
export function initialView(location, storage) {
  if (View.isIn(location.search)) {
    return View.parse(location.search);
  }
  return View.parse(storage.getItem(STORAGE_KEY) ?? "");
}

/** Puts `view` in the address bar (without a new history entry) and in the tab's storage. */
export function saveView(view, location, history, storage) {
  const search = view.toSearch(location.search);
  history.replaceState(history.state, "", `${location.pathname}${search}${location.hash}`);
  storage.setItem(STORAGE_KEY, view.toSearch(""));
}
