// Unit tests of web/js/view.js: the view kept in the URL (window, paused range, series and feeds shown).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { DEFAULT_WINDOW, View, WINDOWS, initialView, saveView, seriesKey } from "../../web/js/view.js";

const byKey = (key) => WINDOWS.find((each) => each.key === key);

/** A Storage and a History that only remember, as the page's are used. */
function memoryStorage(items = {}) {
  const map = new Map(Object.entries(items));
  return { getItem: (key) => map.get(key) ?? null, setItem: (key, value) => map.set(key, String(value)), map };
}

function fakeHistory() {
  const urls = [];
  return { state: { kept: true }, urls, replaceState: (state, unused, url) => urls.push([state, url]) };
}

describe("View.parse", () => {
  test("reads every parameter", () => {
    const view = View.parse(
      "?window=15m&from=1764694800.5&to=1764694830&hide=system:cpu0,stocks:AAPL&show=s:M&feeds=system",
    );
    assert.equal(view.window, byKey("15m"));
    assert.deepEqual(view.range, [1764694800.5, 1764694830]);
    assert.equal(view.paused, true);
    assert.deepEqual([...view.hidden], ["system:cpu0", "stocks:AAPL"]);
    assert.deepEqual([...view.shown], ["s:M"]);
    assert.deepEqual([...view.feeds], ["system"]);
  });

  test("gives whatever is missing or malformed its default", () => {
    for (const search of ["", "?window=2d", "?from=10", "?from=20&to=10", "?from=&to=5", "?from=a&to=b", "?hide=%E0"]) {
      const view = View.parse(search);
      assert.equal(view.window, DEFAULT_WINDOW, search);
      assert.equal(view.range, null, search);
      assert.equal(view.paused, false, search);
      assert.equal(view.hidden.size, 0, search);
      assert.equal(view.feeds, null, search);
    }
  });

  test("reads an empty feeds list as no feed shown", () => {
    assert.deepEqual([...View.parse("?feeds=").feeds], []);
  });
});

describe("View.toSearch", () => {
  test("writes nothing for the default view", () => {
    assert.equal(new View().toSearch(""), "");
  });

  test("survives the trip through the URL, names with commas, colons and spaces included", () => {
    const view = new View({
      window: byKey("1h"),
      range: [100.25, 200],
      hidden: new Set([seriesKey("system", "cpu,0"), seriesKey("odd:feed", "a b")]),
      shown: new Set([seriesKey("stocks50", "META")]),
      feeds: new Set(["system", "odd:feed"]),
    });
    const search = view.toSearch("");
    assert.match(search, /^\?window=1h&from=100\.25&to=200&hide=/);
    const back = View.parse(search);
    assert.equal(back.window, view.window);
    assert.deepEqual(back.range, view.range);
    assert.deepEqual(back.hidden, view.hidden);
    assert.deepEqual(back.shown, view.shown);
    assert.deepEqual(back.feeds, view.feeds);
  });

  test("carries a per-host feed (NAME@NODE) and its series through the URL, encoded", () => {
    const view = new View({
      hidden: new Set([seriesKey("system@node-1.example", "cpu0")]),
      feeds: new Set(["system@node-1.example", "system@node-2.example", "stocks"]),
    });
    const search = view.toSearch("");
    assert.equal(
      search,
      "?hide=system%40node-1.example%3Acpu0&feeds=system%40node-1.example,system%40node-2.example,stocks",
    );
    const back = View.parse(search);
    assert.deepEqual(back.hidden, view.hidden);
    assert.deepEqual(back.feeds, view.feeds);
    assert.equal(back.isShown("system@node-2.example"), true);
    assert.equal(back.isShown("system@node-3.example"), false);
    assert.deepEqual([...View.parse("?feeds=system@node-1.example").feeds], ["system@node-1.example"]);
  });

  test("keeps the URL's other parameters, and replaces its own", () => {
    const search = new View({ window: byKey("5m") }).toSearch("?debug=1&window=1h&from=1&to=2");
    assert.equal(search, "?debug=1&window=5m");
  });
});

describe("View", () => {
  test("tells whether a series is hidden, by default or by choice", () => {
    const view = new View();
    const key = seriesKey("system", "cpu0");
    assert.equal(view.isSeriesHidden(key, false), false);
    assert.equal(view.isSeriesHidden(key, true), true);
    view.setSeriesShown(key, false, false);
    view.setSeriesShown(key, true, true);
    assert.equal(view.isSeriesHidden(key, false), true);
    assert.equal(view.isSeriesHidden(key, true), false);
    view.setSeriesShown(key, true, false);
    view.setSeriesShown(key, false, true);
    assert.deepEqual([view.hidden.size, view.shown.size], [0, 0]);
  });

  test("shows every feed until told which", () => {
    assert.equal(new View().isShown("anything"), true);
    const view = new View({ feeds: new Set(["system"]) });
    assert.equal(view.isShown("system"), true);
    assert.equal(view.isShown("stocks"), false);
  });

  test("says whether a query string holds a view", () => {
    assert.equal(View.isIn("?window=5m"), true);
    assert.equal(View.isIn("?feeds="), true);
    assert.equal(View.isIn("?debug=1"), false);
    assert.equal(View.isIn(""), false);
  });
});

describe("initialView and saveView", () => {
  test("take the URL's view, else the tab's last one", () => {
    const storage = memoryStorage({ "dashboard.view": "?window=15m" });
    assert.equal(initialView({ search: "?window=1h" }, storage).window, byKey("1h"));
    assert.equal(initialView({ search: "?debug=1" }, storage).window, byKey("15m"));
    assert.equal(initialView({ search: "" }, memoryStorage()).window, DEFAULT_WINDOW);
  });

  test("save the view in the address bar (keeping its state, path and hash) and in the tab", () => {
    const storage = memoryStorage();
    const history = fakeHistory();
    const location = { pathname: "/dash", search: "?debug=1", hash: "#top" };
    saveView(new View({ window: byKey("5m") }), location, history, storage);
    assert.deepEqual(history.urls, [[{ kept: true }, "/dash?debug=1&window=5m#top"]]);
    assert.equal(storage.map.get("dashboard.view"), "?window=5m");
  });
});
