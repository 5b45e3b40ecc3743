// The page benchmark's probe (bench/page.py), injected into the dashboard before its own scripts run.
//
// It counts animation frames per second, records each panel's tick-to-pixel age (data-age-ms, or the age of the
// oldest tick the render drew for the first time, data-oldest-age-ms, if older) at every render that drew a newer
// tick than the panel's previous one (a change of data-renders, seen by a MutationObserver, so
// that no render is missed whatever the order of the page's and the probe's animation-frame callbacks), counts long
// tasks, and keeps the hidden-tab check's books. Everything it holds is bounded. bench/page.py reads it through
// window.__pageBench.
//
// A panel renders whenever the shared time range moves, which the fastest feed drives, so most renders of a slow
// feed's panel draw a tick it had already drawn: their age says how old the data is, not how long a tick took to
// reach the screen. The tick a render drew is dated by the clock (Date.now(), the page's) read at the start of the
// frame, less its age: the probe's animation-frame callback runs first in every frame (it asks for the next frame
// within the frame, before any message can make the page ask), so the page reads its clock a moment later. A render
// counts as drawing a new tick when that date moved by more than NEW_TICK_MS (or half the feed's interval, if less)
// since the panel's previous render.
(() => {
  if (window.top !== window || window.__pageBench) {
    return;
  }
  const MAX_SECONDS = 7200; // frames are counted per second for at most this long
  const MAX_AGE_MS = 10000; // tick-to-pixel ages in 1 ms buckets up to this, later ones in one more bucket
  const NEW_TICK_MS = 10;
  const PANEL = '[data-testid="panel"]';
  const number = (text) => (text === undefined ? null : Number(text));
  const feedOf = (panel) => panel.dataset.feed ?? "?";
  const panels = () =>
    Object.fromEntries(
      [...document.querySelectorAll(PANEL)].map((panel) => [
        feedOf(panel),
        {
          points: number(panel.dataset.points),
          firstSeq: number(panel.dataset.firstSeq),
          renders: number(panel.dataset.renders),
          interval: number(panel.dataset.interval),
        },
      ]),
    );
  const probe = {
    started: performance.now(),
    frame: 0,
    frameNow: Date.now(), // the clock at the start of the current frame
    frames: new Uint16Array(MAX_SECONDS),
    ages: new Map(),
    sawRenders: false,
    sawAges: false,
    badAges: 0,
    repeats: 0, // renders that drew no newer tick than the panel's previous render
    newestTick: new WeakMap(), // panel element -> the time (epoch ms) of the newest tick it drew
    longTasks: 0,
    longestTaskMs: 0,
    hidden: null,

    reset() {
      this.started = performance.now();
      this.frames.fill(0);
      for (const histogram of this.ages.values()) {
        histogram.fill(0);
      }
      this.badAges = 0;
      this.repeats = 0;
      this.longTasks = 0;
      this.longestTaskMs = 0;
    },

    read() {
      const seconds = Math.min(MAX_SECONDS, Math.floor((performance.now() - this.started) / 1000));
      const nonZero = (histogram) => [...histogram.entries()].filter(([, count]) => count > 0);
      return {
        fps: Array.from(this.frames.subarray(0, seconds)),
        ages: Object.fromEntries([...this.ages].map(([feed, histogram]) => [feed, nonZero(histogram)])),
        maxAgeMs: MAX_AGE_MS,
        sawRenders: this.sawRenders,
        sawAges: this.sawAges,
        badAges: this.badAges,
        repeats: this.repeats,
        longTasks: this.longTasks,
        longestTaskMs: this.longestTaskMs,
        // The pressed window button (or, on an older page, its window label).
        windowShown:
          document.querySelector('#windows [aria-pressed="true"]')?.dataset.window ??
          document.getElementById("window")?.textContent ??
          null,
        panels: panels(),
      };
    },

    watchVisibility() {
      this.hidden = { atHide: null, atShow: null, hiddenAt: null, shownAt: null, proxy: false };
      this.hidden.whileHidden = {};
      this.hidden.first = {};
    },

    readVisibility() {
      return { ...this.hidden, now: performance.now(), panels: panels() };
    },
  };

  const histogramOf = (feed) => {
    let histogram = probe.ages.get(feed);
    if (histogram === undefined) {
      histogram = new Uint32Array(MAX_AGE_MS + 2);
      probe.ages.set(feed, histogram);
    }
    return histogram;
  };

  const recordAge = (panel) => {
    if (!panel.hasAttribute("data-age-ms")) {
      return;
    }
    const age = Number(panel.dataset.ageMs);
    if (!Number.isFinite(age)) {
      probe.badAges += 1;
      return;
    }
    probe.sawAges = true;
    const tickTime = probe.frameNow - age;
    const previous = probe.newestTick.get(panel);
    probe.newestTick.set(panel, Math.max(tickTime, previous ?? -Infinity));
    const intervalMs = Number(panel.dataset.interval) * 1000;
    const threshold = intervalMs > 0 ? Math.min(NEW_TICK_MS, intervalMs / 2) : NEW_TICK_MS; // NaN > 0 is false
    if (previous === undefined) {
      return; // what this panel drew before the probe looked is unknown: not counted either way
    }
    if (tickTime - previous <= threshold) {
      probe.repeats += 1;
      return;
    }
    // The render may also have drawn older ticks for the first time (they came between two of the page's data
    // frames): the page says how old the oldest of them was, and that is what is counted.
    const oldest = Number(panel.dataset.oldestAgeMs ?? age);
    const waited = Number.isFinite(oldest) ? Math.max(age, oldest) : age;
    histogramOf(feedOf(panel))[Math.min(Math.max(0, Math.round(waited)), MAX_AGE_MS + 1)] += 1;
  };

  // The hidden-tab check's bookkeeping: renders while hidden, and the first frame's renders after showing.
  const noteRender = (panel, proxy) => {
    const seen = probe.hidden;
    if (seen === null) {
      return;
    }
    const feed = feedOf(panel);
    seen.proxy ||= proxy;
    if (document.visibilityState === "hidden") {
      seen.whileHidden[feed] = (seen.whileHidden[feed] ?? 0) + 1;
      return;
    }
    if (seen.shownAt === null) {
      return;
    }
    let first = seen.first[feed];
    if (first === undefined) {
      first = seen.first[feed] = {
        frame: probe.frame,
        msAfterShow: performance.now() - seen.shownAt,
        renders: 0,
        points: number(panel.dataset.points),
        firstSeq: number(panel.dataset.firstSeq),
      };
    }
    if (first.frame === probe.frame) {
      first.renders += 1;
    }
  };

  const onMutations = (records) => {
    for (const record of records) {
      const panel = record.target;
      if (panel.dataset?.testid !== "panel") {
        continue;
      }
      const render = record.attributeName === "data-renders";
      // Without data-renders (an older page), each write of data-points, done by every render, stands in for one.
      if (!render && panel.hasAttribute("data-renders")) {
        continue;
      }
      if (render) {
        probe.sawRenders = true;
        recordAge(panel);
      }
      noteRender(panel, !render);
    }
  };
  new MutationObserver(onMutations).observe(document, {
    subtree: true,
    attributes: true,
    attributeFilter: ["data-renders", "data-points"],
  });

  const onFrame = (time) => {
    probe.frameNow = Date.now();
    probe.frame += 1;
    const second = Math.floor((time - probe.started) / 1000);
    if (second >= 0 && second < MAX_SECONDS) {
      probe.frames[second] += 1;
    }
    requestAnimationFrame(onFrame);
  };
  requestAnimationFrame(onFrame);

  document.addEventListener("visibilitychange", () => {
    const seen = probe.hidden;
    if (seen === null) {
      return;
    }
    if (document.visibilityState === "hidden") {
      seen.atHide = panels();
      seen.hiddenAt = performance.now();
    } else {
      seen.atShow = panels();
      seen.shownAt = performance.now();
    }
  });

  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        probe.longTasks += 1;
        probe.longestTaskMs = Math.max(probe.longestTaskMs, entry.duration);
      }
    }).observe({ type: "longtask" });
  } catch {
    // No long-task timing in this browser: the counts stay 0.
  }
  window.__pageBench = probe;
})();
