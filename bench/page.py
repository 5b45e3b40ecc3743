"""``make bench-page``: the dashboard page in real Chromium: frames, main-thread time, memory, tick-to-pixel latency.

One ``server.py`` runs every built-in feed at its default rate plus ``stocks50`` (bench/plugins/stocks50.py: 50
symbols at 20 Hz), pinned to core 0; this process, Playwright's driver and headless Chromium (tools/harness.py's
``launch_chromium``) are pinned to core 1. For each chart window (``--windows``, default ``1m,1h``) a fresh page at
1400 x 1000 opens ``/?window=W``, waits until every panel is live, and is measured for ``--seconds`` (the first,
main pass; default 600) or ``--long-seconds`` (the others; default 120):

- **fps**: a ``requestAnimationFrame`` counter injected into the page (bench/page_probe.js), per 1-second bucket:
  the median second and the 1st-percentile (the slowest 1%) second;
- **main thread**: the DevTools Protocol's ``Performance.getMetrics`` over the wall time, as a share of one core:
  ``TaskDuration`` (the main thread's time in tasks, less the benchmark's own DevTools commands; on a core shared
  with the browser's other processes it includes waiting for the core), ``ThreadTime`` (its CPU time),
  ``ScriptDuration``, ``LayoutDuration`` plus ``RecalcStyleDuration``, and the renderer's ``ProcessTime``; the
  target (under 25% of one core) is judged on ``ThreadTime``, the core the main thread used;
- **memory**: ``JSHeapUsedSize`` and the DOM ``Nodes`` count every 10 s, each after a forced GC
  (``HeapProfiler.collectGarbage``): the heap after 1 minute, at the end, and its slope over the last half;
- **tick-to-pixel**: each panel's ``data-age-ms`` (from its newest tick's server ``ts`` to the animation frame that
  drew it) whenever its ``data-renders`` changes, seen by a MutationObserver (every render, none missed, whatever
  the order of the page's and the probe's animation-frame callbacks), counted only when the render drew a newer
  tick than the panel's previous one (the page redraws every panel when the time range moves; an old tick drawn
  again says how old the data is, not how fast it came), and then the age of the oldest live tick that render drew
  for the first time (``data-oldest-age-ms``) when that is older: the page draws new ticks at most 20 times a
  second, so one render may show several for the first time: p50 and p99 per feed and overall.

Then the hidden-tab check: a tab (window 1h) is hidden for 10 s by opening another tab in its window; the probe
counts the renders while it is hidden, the ticks the page stored meanwhile, and the renders of the first frame after
it shows again. Playwright cannot hide its own pages (it emulates focus on each, and Chromium keeps a page with emulated
focus visible, as it does a captured one), so that tab lives in a browser context made over the browser's DevTools
session, which Playwright does not manage, and is driven with ``Target.sendMessageToTarget``.

The output is a Markdown table, one row per window, for docs/performance.md, with the targets checked under it;
``--json PATH`` writes every figure as well. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
from playwright.sync_api import Browser, CDPSession, ConsoleMessage, Page, ViewportSize, sync_playwright
from playwright.sync_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Run as `python bench/page.py`: tools/ is not an installed package, so the project's root must be on the path.
    sys.path.insert(0, str(ROOT))

from bench.plugins.stocks50 import SYMBOLS  # noqa: E402
from tools.harness import ALL_LIVE_JS, LIVE_TIMEOUT_MS, Server, launch_chromium, wait_until_live  # noqa: E402

__all__ = ["HiddenResult", "WindowResult", "main"]

SERVER_CORE, BROWSER_CORE = 0, 1
# Tall enough for every panel to be in view: the page does not draw panels scrolled out of sight.
VIEWPORT: ViewportSize = {"width": 1400, "height": 2600}
# The chart windows the page understands (its `window` query parameter), in seconds.
WINDOWS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}
DEFAULT_WINDOWS = "1m,1h"
STOCKS50_PLUGIN = "bench/plugins/stocks50.py"
# Every built-in feed at its default rate, and stocks50; nothing from installed packages.
SERVER_OPTIONS = ("--feed", STOCKS50_PLUGIN, "--no-entry-points")

DEFAULT_SECONDS = 600.0
DEFAULT_LONG_SECONDS = 120.0
# After the page is live: its first paint, the history it asked for, and the JIT settle before counting starts.
WARMUP_SECONDS = 5.0
MEMORY_SAMPLE_SECONDS = 10.0
PROGRESS_SECONDS = 60.0
HEAP_EARLY_SECONDS = 60.0  # "the heap after 1 minute"
HIDDEN_SECONDS = 10.0
# The hidden tab's chart window. The page's data-points counts the ticks it holds, which stops growing once its
# history is full (old ones go as new ones come): an hour's window is not full in a run shorter than an hour, so
# the growth of data-points over the hidden time is every tick the page stored meanwhile.
HIDDEN_WINDOW = "1h"
# After showing the hidden tab again: enough frames for the first render and a few more.
SHOWN_SECONDS = 2.0
# Seconds of rendering before a tab is hidden, so that it has drawn what it was given at first.
SETTLE_SECONDS = 3.0

MS_PER_S = 1000.0
BYTES_PER_MB = 1_000_000
S_PER_MINUTE = 60.0

# The targets of docs/performance.md for the page.
TARGET_FPS = 60
# A 60 Hz frame clock counts 59 to 61 frames in a second: a median of 59 is 60 fps.
FPS_TOLERANCE = 1
TARGET_MAIN_THREAD = 0.25  # of one core
TARGET_P99_MS = 100.0
# "Flat": the heap, after a forced GC, grows by less than this once the window has filled.
FLAT_MB_PER_MINUTE = 0.1
LOW_PERCENTILE = 0.01
# Processes on the browser's core below this share are left out of its breakdown.
MIN_SHOWN_SHARE = 0.005
# Ticks kept while hidden: at least this share of what the feed sent meanwhile (the edges of the hidden time blur).
STORED_FRACTION = 0.9

CDP_REPLY_TIMEOUT_S = 10.0
CDP_POLL_S = 0.005

# Injected into every page before its own scripts: the frame counter, the render watcher, the hidden-tab books.
PROBE_JS = (Path(__file__).parent / "page_probe.js").read_text()


# Results.


@dataclass(frozen=True)
class Latency:
    """Tick-to-pixel ages of one feed's renders, in milliseconds."""

    renders: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class MemorySample:
    seconds: float  # since the measurement started
    heap_mb: float
    nodes: int


@dataclass
class WindowResult:
    """One chart window's measurement."""

    window: str
    seconds: float
    fps_median: float = math.nan
    fps_low: float = math.nan  # the 1st-percentile second
    fps_per_second: list[int] = field(default_factory=list)  # frames in each second, in order (for the JSON)
    main_thread: float = math.nan  # share of one core: wall time in tasks, waiting for the core included
    main_thread_cpu: float = math.nan  # the main thread's own CPU time
    script: float = math.nan
    style_layout: float = math.nan
    renderer_cpu: float = math.nan  # the renderer process, every thread
    browser_side: dict[str, float] = field(default_factory=dict)  # the browser's core, share by kind of process
    server_cpu: float = math.nan
    long_tasks: int = 0
    longest_task_ms: float = 0.0
    memory: list[MemorySample] = field(default_factory=list)
    heap_early_mb: float | None = None
    heap_end_mb: float = math.nan
    heap_slope_mb_per_minute: float | None = None
    nodes_end: int = 0
    filled_at_seconds: float = 0.0  # when the window held a full window of ticks, since the measurement started
    latency: dict[str, Latency] = field(default_factory=dict)
    latency_all: Latency | None = None
    notes: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @property
    def flat_judged(self) -> bool:
        """Whether the window had filled before the last half, over which the slope is taken."""
        return self.heap_slope_mb_per_minute is not None and self.filled_at_seconds <= self.seconds / 2


@dataclass(frozen=True)
class PanelVisibility:
    """One panel through the hidden-tab check."""

    feed: str
    renders_while_hidden: int
    stored_while_hidden: int | None  # ticks the page took in while hidden, as its first render after showing shows
    expected_while_hidden: float | None  # the feed's ticks over the hidden time
    points_at_hide: int | None
    points_while_hidden: int | None  # the panel's data-points just before showing
    first_frame_renders: int | None  # renders in the first frame that rendered it after showing
    first_render_ms: float | None  # from showing to that render


@dataclass
class HiddenResult:
    hidden: bool
    state_while_hidden: str
    state_after_show: str = ""
    hidden_seconds: float = 0.0
    proxy: bool = False  # renders counted from data-points writes: the page has no data-renders
    panels: list[PanelVisibility] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# Figures.


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (not necessarily sorted); NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(fraction * len(ordered)) - 1)])


def histogram_percentile(buckets: Sequence[tuple[int, int]], fraction: float) -> float:
    """The nearest-rank percentile of a histogram given as ``(value, count)`` pairs in value order."""
    total = sum(count for _, count in buckets)
    if total == 0:
        return math.nan
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value, count in buckets:
        seen += count
        if seen >= rank:
            return float(value)
    return float(buckets[-1][0])


def latency_of(buckets: Sequence[tuple[int, int]]) -> Latency:
    return Latency(
        renders=sum(count for _, count in buckets),
        p50_ms=histogram_percentile(buckets, 0.5),
        p99_ms=histogram_percentile(buckets, 0.99),
    )


def slope_per_minute(samples: Sequence[MemorySample]) -> float | None:
    """The least-squares slope of the heap over ``samples``, in MB per minute; None for fewer than two."""
    if len(samples) < 2:
        return None
    slope, _ = statistics.linear_regression([s.seconds for s in samples], [s.heap_mb for s in samples])
    return slope * S_PER_MINUTE


# The machine: cores and CPU time.


def taskset(core: int) -> list[str]:
    """The command prefix that pins a process to ``core``; none on a machine with one core."""
    return ["taskset", "-c", str(core)] if (os.cpu_count() or 1) >= 2 else []


def pin_this_process(core: int) -> bool:
    """Pin this process to ``core`` before Playwright starts: its driver and Chromium inherit the affinity."""
    if (os.cpu_count() or 1) < 2:
        return False
    os.sched_setaffinity(0, {core})
    return True


def browser_cores() -> set[int]:
    """The cores the Chromium processes under this one may run on."""
    cores: set[int] = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name():
                cores.update(child.cpu_affinity() or ())
        except psutil.Error:
            continue  # gone meanwhile
    return cores


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def process_kind(process: psutil.Process) -> str:
    """What one process on the browser's core is: this one, Playwright's driver, or a Chromium process by type."""
    if process.pid == os.getpid():
        return "bench"
    arguments = process.cmdline()
    if "chrom" not in process.name():
        return "Playwright driver" if process.name().startswith("node") else process.name()
    kind = next((argument.split("=", 1)[1] for argument in arguments if argument.startswith("--type=")), "browser")
    return "gpu" if kind == "gpu-process" else kind


def browser_side_cpu(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of this process and everything under it but the server (Playwright's driver, Chromium), by
    kind."""
    seconds: dict[str, float] = {}
    for process in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        if process.pid == server_pid:
            continue
        try:
            kind = process_kind(process)
            seconds[kind] = seconds.get(kind, 0.0) + cpu_seconds(process.pid)
        except psutil.Error:
            continue  # gone meanwhile
    return seconds


# A page of Playwright's: the measurement.


class Metrics:
    """``Performance.getMetrics`` of one page, by name."""

    def __init__(self, cdp: CDPSession) -> None:
        reply = cdp.send("Performance.getMetrics")
        self.values: dict[str, float] = {metric["name"]: float(metric["value"]) for metric in reply["metrics"]}

    def __getitem__(self, name: str) -> float:
        return self.values.get(name, 0.0)


def memory_sample(cdp: CDPSession, seconds: float) -> MemorySample:
    cdp.send("HeapProfiler.collectGarbage")
    metrics = Metrics(cdp)
    return MemorySample(seconds, metrics["JSHeapUsedSize"] / BYTES_PER_MB, int(metrics["Nodes"]))


def watch_errors(page: Page, into: list[str]) -> None:
    """Collect the page's uncaught errors and console errors into ``into``."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            into.append(f"console error: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: into.append(f"uncaught: {error.message}"))


def measure(
    browser: Browser, server: Server, window: str, seconds: float, server_started: float, *, all_series: bool
) -> WindowResult:
    """Open the page with chart window ``window`` in a fresh context and measure it for ``seconds``; with
    ``all_series``, every one of stocks50's 50 symbols is drawn (the page starts a chart that crowded with 8)."""
    result = WindowResult(window, seconds)
    context = browser.new_context(viewport=VIEWPORT)
    try:
        context.add_init_script(PROBE_JS)
        page = context.new_page()
        watch_errors(page, result.page_errors)
        shown = "&show=" + ",".join(f"stocks50:{symbol}" for symbol in SYMBOLS) if all_series else ""
        page.goto(f"{server.url}?window={window}{shown}")
        wait_until_live(page)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.wait_for_timeout(WARMUP_SECONDS * MS_PER_S)
        # The server's history fills a new page's window at once as far as the server's uptime reaches.
        result.filled_at_seconds = max(0.0, WINDOWS[window] - (time.monotonic() - server_started))
        run_window(page, cdp, server, result)
    finally:
        context.close()
    return result


def run_window(page: Page, cdp: CDPSession, server: Server, result: WindowResult) -> None:
    """Count for ``result.seconds`` on a live page, sampling memory as it goes, and fill in ``result``."""
    assert server.process is not None
    page.evaluate("window.__pageBench.reset()")
    server_before = cpu_seconds(server.process.pid)
    side_before = browser_side_cpu(server.process.pid)
    before = Metrics(cdp)
    started = time.monotonic()
    result.memory.append(memory_sample(cdp, 0.0))
    for number in itertools.count(1):
        due = min(number * MEMORY_SAMPLE_SECONDS, result.seconds)
        wait = started + due - time.monotonic()
        if wait > 0:
            page.wait_for_timeout(wait * MS_PER_S)
        result.memory.append(memory_sample(cdp, time.monotonic() - started))
        if due % PROGRESS_SECONDS < MEMORY_SAMPLE_SECONDS and due < result.seconds:
            heap = result.memory[-1].heap_mb
            progress(f"{result.window}: {due:.0f} s of {result.seconds:g}, heap {heap:.1f} MB")
        if due >= result.seconds:
            break
    after = Metrics(cdp)
    server_cpu = cpu_seconds(server.process.pid) - server_before
    side_after = browser_side_cpu(server.process.pid)
    probe = page.evaluate("window.__pageBench.read()")
    wall = after["Timestamp"] - before["Timestamp"]

    def share(*names: str) -> float:
        return sum(after[name] - before[name] for name in names) / wall

    # The benchmark's own DevTools commands (the forced GCs, the metrics) run on the main thread: not the page's.
    result.main_thread = share("TaskDuration") - share("DevToolsCommandDuration")
    result.main_thread_cpu = share("ThreadTime")
    result.script = share("ScriptDuration")
    result.style_layout = share("LayoutDuration", "RecalcStyleDuration")
    result.renderer_cpu = share("ProcessTime")
    elapsed = time.monotonic() - started
    result.server_cpu = server_cpu / elapsed
    shares = {kind: (seconds - side_before.get(kind, 0.0)) / elapsed for kind, seconds in side_after.items()}
    result.browser_side = dict(sorted(shares.items(), key=lambda item: item[1], reverse=True))
    summarize(result, probe)


def summarize(result: WindowResult, probe: dict[str, Any]) -> None:
    """Fill in the figures that come from the page's probe and the memory samples."""
    result.fps_per_second = [int(count) for count in probe["fps"]]
    fps = [float(count) for count in result.fps_per_second]
    result.fps_median = float(statistics.median(fps)) if fps else math.nan
    result.fps_low = percentile(fps, LOW_PERCENTILE)
    result.long_tasks = int(probe["longTasks"])
    result.longest_task_ms = float(probe["longestTaskMs"])
    samples = result.memory
    early = [sample for sample in samples if sample.seconds >= HEAP_EARLY_SECONDS]
    result.heap_early_mb = early[0].heap_mb if early else None
    result.heap_end_mb = samples[-1].heap_mb
    result.nodes_end = samples[-1].nodes
    result.heap_slope_mb_per_minute = slope_per_minute([s for s in samples if s.seconds >= result.seconds / 2])
    if probe["windowShown"] != result.window:
        result.notes.append(f"asked for window {result.window}, the page shows {probe['windowShown']!r}")
    attributes = (("data-renders", "sawRenders"), ("data-age-ms", "sawAges"))
    missing = [attribute for attribute, seen in attributes if not probe[seen]]
    if missing:
        result.notes.append(
            f"no panel has {' or '.join(missing)}: tick-to-pixel latency skipped (the page does not publish it yet)"
        )
        return
    ages = {feed: [(int(value), int(count)) for value, count in buckets] for feed, buckets in probe["ages"].items()}
    result.latency = {feed: latency_of(buckets) for feed, buckets in sorted(ages.items())}
    merged: dict[int, int] = {}
    for buckets in ages.values():
        for value, count in buckets:
            merged[value] = merged.get(value, 0) + count
    result.latency_all = latency_of(sorted(merged.items()))
    result.notes.append(
        f"{probe['repeats']:,} renders drew no newer tick than their panel's previous render: not in the latency"
    )
    if probe["badAges"]:
        result.notes.append(f"{probe['badAges']} renders had a data-age-ms that is not a number")
    overflow = sum(count for buckets in ages.values() for value, count in buckets if value > probe["maxAgeMs"])
    if overflow:
        result.notes.append(f"{overflow} renders were older than {probe['maxAgeMs']} ms (counted as that)")


def describe_feeds(url: str) -> str:
    """The server's feeds as ``/api/feeds`` lists them: name, fields and interval."""
    with urllib.request.urlopen(f"{url}api/feeds") as response:
        feeds = json.load(response)
    return ", ".join(f"{feed['name']} ({len(feed['fields'])} fields) every {feed['interval']:g} s" for feed in feeds)


# A tab Playwright does not manage: the hidden-tab check.


class UnmanagedTab:
    """A tab in a browser context made over the browser's DevTools session, unknown to Playwright.

    Playwright emulates focus on every page it manages, and Chromium keeps a page with emulated focus visible (it
    counts as captured), so none of Playwright's pages ever reports ``hidden``. This tab has no such session: it is
    hidden as a person hides one, by another tab coming to the front of its window, and driven with
    ``Target.sendMessageToTarget``, whose replies arrive as events while this side keeps Playwright's connection busy.
    """

    def __init__(self, browser: Browser) -> None:
        self._cdp = browser.new_browser_cdp_session()
        self._replies: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._cdp.on("Target.receivedMessageFromTarget", self._on_message)
        created = self._cdp.send("Target.createBrowserContext", {"disposeOnDetach": True})
        self._context_id: str = created["browserContextId"]
        self._target = self._new_tab(new_window=True)
        attached = self._cdp.send("Target.attachToTarget", {"targetId": self._target, "flatten": False})
        self._session: str = attached["sessionId"]

    def _new_tab(self, new_window: bool) -> str:
        params = {"url": "about:blank", "browserContextId": self._context_id, "newWindow": new_window}
        target: str = self._cdp.send("Target.createTarget", params)["targetId"]
        return target

    def _on_message(self, event: dict[str, Any]) -> None:
        if event.get("sessionId") == self._session:
            message = json.loads(event["message"])
            if "id" in message:
                self._replies[message["id"]] = message

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one DevTools command to the tab and return its result."""
        number = next(self._ids)
        message = json.dumps({"id": number, "method": method, "params": params or {}})
        self._cdp.send("Target.sendMessageToTarget", {"sessionId": self._session, "message": message})
        deadline = time.monotonic() + CDP_REPLY_TIMEOUT_S
        while number not in self._replies:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no reply to {method} from the unmanaged tab in {CDP_REPLY_TIMEOUT_S} s")
            time.sleep(CDP_POLL_S)
            self._cdp.send("Browser.getVersion")  # a round trip, so that Playwright delivers waiting events
        reply = self._replies.pop(number)
        if "error" in reply:
            raise RuntimeError(f"{method} failed in the unmanaged tab: {reply['error'].get('message')}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def evaluate(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise RuntimeError(f"{expression!r} threw in the unmanaged tab: {text}")
        return reply["result"].get("value")

    def open(self, url: str) -> None:
        width, height = VIEWPORT["width"], VIEWPORT["height"]
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.send("Emulation.setDeviceMetricsOverride", metrics)
        self.send("Page.enable")  # without it, scripts added for new documents are not run
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE_JS})
        self.send("Page.navigate", {"url": url})

    def wait_for(self, expression: str, timeout_s: float) -> bool:
        """Whether ``expression`` (a function's source) returned true within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.evaluate(f"({expression})()") is True:
                return True
            self.pause(CDP_POLL_S * 20)
        return False

    def pause(self, seconds: float) -> None:
        """Wait, keeping Playwright's connection (and so the tab's replies) flowing."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(CDP_POLL_S * 20, max(0.0, deadline - time.monotonic())))
            self._cdp.send("Browser.getVersion")

    def hide(self) -> None:
        """Bring another tab of the same window to the front (it closes with the context)."""
        self._new_tab(new_window=False)

    def show(self) -> None:
        self._cdp.send("Target.activateTarget", {"targetId": self._target})

    def close(self) -> None:
        try:
            self._cdp.send("Target.disposeBrowserContext", {"browserContextId": self._context_id})
        finally:
            self._cdp.detach()


def check_hidden(browser: Browser, server: Server, window: str) -> HiddenResult:
    """Hide a live dashboard tab for ``HIDDEN_SECONDS``, show it again, and see what the page did."""
    tab = UnmanagedTab(browser)
    try:
        tab.open(f"{server.url}?window={window}")
        if not tab.wait_for(ALL_LIVE_JS, LIVE_TIMEOUT_MS / MS_PER_S):
            raise RuntimeError("the unmanaged tab did not go live")
        tab.pause(SETTLE_SECONDS)
        tab.evaluate("window.__pageBench.watchVisibility()")
        tab.hide()
        tab.pause(HIDDEN_SECONDS)
        state = str(tab.evaluate("document.visibilityState"))
        result = HiddenResult(hidden=state == "hidden", state_while_hidden=state)
        while_hidden = tab.evaluate("window.__pageBench.readVisibility()")
        tab.show()
        tab.pause(SHOWN_SECONDS)
        result.state_after_show = str(tab.evaluate("document.visibilityState"))
        seen = tab.evaluate("window.__pageBench.readVisibility()")
    finally:
        tab.close()
    visibility_figures(result, while_hidden, seen)
    return result


def visibility_figures(result: HiddenResult, while_hidden: dict[str, Any], seen: dict[str, Any]) -> None:
    """Per panel: renders while hidden, ticks stored meanwhile, renders of the first frame after showing."""
    if not result.hidden:
        result.notes.append(f"the tab did not become hidden (visibilityState {result.state_while_hidden!r})")
        return
    at_hide: dict[str, dict[str, Any]] = seen["atHide"] or {}
    if seen["hiddenAt"] is not None and seen["shownAt"] is not None:
        result.hidden_seconds = (seen["shownAt"] - seen["hiddenAt"]) / MS_PER_S
    result.proxy = bool(seen["proxy"])
    for feed, before in sorted(at_hide.items()):
        first = seen["first"].get(feed)
        interval = before.get("interval")
        result.panels.append(
            PanelVisibility(
                feed=feed,
                renders_while_hidden=int(seen["whileHidden"].get(feed, 0)),
                stored_while_hidden=stored_between(before, first),
                expected_while_hidden=result.hidden_seconds / interval if interval else None,
                points_at_hide=before.get("points"),
                points_while_hidden=while_hidden["panels"].get(feed, {}).get("points"),
                first_frame_renders=first["renders"] if first else None,
                first_render_ms=first["msAfterShow"] if first else None,
            )
        )
    if result.proxy:
        result.notes.append("the page has no data-renders: renders are counted as writes of data-points")


def stored_between(before: dict[str, Any], after: dict[str, Any] | None) -> int | None:
    """Ticks a panel took in between two looks at it: the growth of ``data-points`` (the ticks it holds, exact while
    its history is not full), plus how far ``data-first-seq`` moved (on a page where it follows the oldest tick
    held, that counts the ticks a full history let go)."""
    if after is None or before.get("points") is None or after.get("points") is None:
        return None
    grown = int(after["points"]) - int(before["points"])
    if before.get("firstSeq") is not None and after.get("firstSeq") is not None:
        grown += int(after["firstSeq"]) - int(before["firstSeq"])
    return grown


# The report.


def progress(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


def figure(value: float | None, text: Callable[[float], str]) -> str:
    return "n/a" if value is None or math.isnan(value) else text(value)


def ms(value: float | None) -> str:
    return figure(value, lambda v: f"{v:.0f}")


def percent(value: float | None) -> str:
    return figure(value, lambda v: f"{100 * v:.1f}%")


def megabytes(value: float | None) -> str:
    return figure(value, lambda v: f"{v:.1f}")


HEADER = (
    "| window | seconds | fps median | fps 1% low | main thread | main-thread CPU | script | style+layout "
    "| renderer CPU "
    "| long tasks | JS heap @1 min MB | JS heap end MB | heap MB/min, last half | DOM nodes | p50 ms | p99 ms "
    "| server CPU |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def row(result: WindowResult) -> str:
    latency = result.latency_all
    slope = figure(result.heap_slope_mb_per_minute, lambda v: f"{v:+.2f}")
    return (
        f"| {result.window} | {result.seconds:g} | {figure(result.fps_median, lambda v: f'{v:g}')} "
        f"| {figure(result.fps_low, lambda v: f'{v:g}')} | {percent(result.main_thread)} "
        f"| {percent(result.main_thread_cpu)} | {percent(result.script)} "
        f"| {percent(result.style_layout)} | {percent(result.renderer_cpu)} "
        f"| {result.long_tasks} (longest {result.longest_task_ms:.0f} ms) | {megabytes(result.heap_early_mb)} "
        f"| {megabytes(result.heap_end_mb)} | {slope} | {result.nodes_end:,} "
        f"| {ms(latency.p50_ms if latency else None)} | {ms(latency.p99_ms if latency else None)} "
        f"| {percent(result.server_cpu)} |"
    )


def latency_table(results: Sequence[WindowResult]) -> list[str]:
    lines = ["| window | feed | renders of a new tick | p50 ms | p99 ms |", "|---|---|---|---|---|"]
    for result in results:
        every = [*result.latency.items(), *([("all", result.latency_all)] if result.latency_all else [])]
        lines += [
            f"| {result.window} | {feed} | {latency.renders:,} | {ms(latency.p50_ms)} | {ms(latency.p99_ms)} |"
            for feed, latency in every
        ]
    return lines if len(lines) > 2 else []


def check(label: str, ok: bool | None, detail: str) -> str:
    mark = "?" if ok is None else "x" if ok else " "
    return f"- [{mark}] {label}: {detail}"


def targets(result: WindowResult) -> list[str]:
    name = f"{result.window} window"
    lines = [
        check(
            f"{name}: {TARGET_FPS} fps",
            result.fps_median >= TARGET_FPS - FPS_TOLERANCE,
            f"median second {figure(result.fps_median, lambda v: f'{v:g}')} frames, "
            f"slowest 1% {figure(result.fps_low, lambda v: f'{v:g}')}",
        ),
        # Judged on the CPU the main thread used: its time in tasks also counts the time it waited for the core,
        # which the bench makes it share with the browser's compositor, raster and GPU threads.
        check(
            f"{name}: main thread under {100 * TARGET_MAIN_THREAD:.0f}% of one core",
            result.main_thread_cpu < TARGET_MAIN_THREAD,
            f"{percent(result.main_thread_cpu)} CPU ({percent(result.main_thread)} in tasks, waiting included)",
        ),
    ]
    slope = result.heap_slope_mb_per_minute
    if result.flat_judged and slope is not None:
        lines.append(
            check(
                f"{name}: memory flat after the window fills (growing under {FLAT_MB_PER_MINUTE:g} MB/min)",
                slope < FLAT_MB_PER_MINUTE,
                f"{slope:+.3f} MB/min over the last {result.seconds / 2:g} s, "
                f"{megabytes(result.heap_early_mb)} MB at 1 min, {megabytes(result.heap_end_mb)} MB at the end",
            )
        )
    else:
        lines.append(
            check(
                f"{name}: memory flat after the window fills",
                None,
                f"not judged: the window fills {result.filled_at_seconds:.0f} s in, after the last half began",
            )
        )
    latency = result.latency_all
    lines.append(
        check(
            f"{name}: tick-to-pixel p99 under {TARGET_P99_MS:g} ms",
            latency.p99_ms < TARGET_P99_MS if latency else None,
            f"{ms(latency.p99_ms)} ms over {latency.renders:,} renders" if latency else "not measured",
        )
    )
    return lines


def hidden_lines(result: HiddenResult) -> list[str]:
    if not result.hidden:
        return [f"- hidden tab: not hidden ({result.state_while_hidden}); {'; '.join(result.notes)}"]
    lines = [
        f"- hidden tab: visibilityState {result.state_while_hidden!r} for {result.hidden_seconds:.1f} s, then "
        f"{result.state_after_show!r}",
        "",
        "| feed | renders while hidden | ticks stored while hidden | expected | data-points at hide "
        "| data-points while hidden | renders in the first frame after showing | ms to that frame |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for panel in result.panels:
        stored = "n/a" if panel.stored_while_hidden is None else f"{panel.stored_while_hidden:,}"
        lines.append(
            f"| {panel.feed} | {panel.renders_while_hidden} | {stored} "
            f"| {figure(panel.expected_while_hidden, lambda v: f'{v:,.0f}')} | {panel.points_at_hide} "
            f"| {panel.points_while_hidden} | {panel.first_frame_renders} | {ms(panel.first_render_ms)} |"
        )
    if not result.panels:
        return [*lines, "", "- hidden tab: no panel on the page to look at"]
    none_hidden = all(panel.renders_while_hidden == 0 for panel in result.panels)
    one_after = all(panel.first_frame_renders == 1 for panel in result.panels)
    stored_ok = all(
        panel.stored_while_hidden is not None
        and panel.expected_while_hidden is not None
        and panel.stored_while_hidden >= panel.expected_while_hidden * STORED_FRACTION
        for panel in result.panels
    )
    lines += [
        "",
        check("hidden: no render while hidden", none_hidden, "renders counted per panel above"),
        check(
            "hidden: ticks kept being stored",
            stored_ok,
            f"at least {100 * STORED_FRACTION:.0f}% of each feed's ticks over the hidden time",
        ),
        check("hidden: exactly one render per panel when shown again", one_after, "in the first frame after showing"),
        *(f"- note: {note}" for note in result.notes),
    ]
    return lines


def report(results: Sequence[WindowResult], hidden: HiddenResult | None, header: Sequence[str]) -> str:
    lines = [*header, "", HEADER, *(row(result) for result in results), ""]
    latency = latency_table(results)
    if latency:
        lines += ["Tick-to-pixel latency per feed:", "", *latency, ""]
    for result in results:
        lines += targets(result)
    lines.append("")
    if hidden is not None:
        lines += [*hidden_lines(hidden), ""]
    for result in results:
        side = ", ".join(
            f"{kind} {percent(share)}" for kind, share in result.browser_side.items() if share >= MIN_SHOWN_SHARE
        )
        lines.append(
            f"- {result.window}: the browser's core: {side} (total {percent(sum(result.browser_side.values()))})"
        )
        lines += [f"- {result.window}: {note}" for note in result.notes]
        errors = sorted(set(result.page_errors))
        lines += [f"- {result.window}: page error: {error}" for error in errors[:5]]
    return "\n".join(lines)


# The command line.


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the dashboard page in headless Chromium: fps, main-thread time, memory and "
        "tick-to-pixel latency, one row per chart window, and a hidden-tab check."
    )
    parser.add_argument(
        "--windows",
        default=DEFAULT_WINDOWS,
        help=f"comma-separated chart windows, the first is the main pass (of {', '.join(WINDOWS)}; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help="how long the main pass counts (default %(default)g)"
    )
    parser.add_argument(
        "--long-seconds",
        type=float,
        default=DEFAULT_LONG_SECONDS,
        help="how long each later pass counts (default %(default)g)",
    )
    parser.add_argument("--no-hidden", action="store_true", help="skip the hidden-tab check")
    parser.add_argument(
        "--all-series",
        action="store_true",
        help="draw all 50 of stocks50's symbols on its chart (by default the page draws a crowded chart's first 8)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure to PATH as JSON")
    args = parser.parse_args(argv)
    args.windows = [window.strip() for window in args.windows.split(",") if window.strip()]
    unknown = [window for window in args.windows if window not in WINDOWS]
    if unknown or not args.windows:
        parser.error(f"unknown window {unknown[0] if unknown else ''!r} (known: {', '.join(WINDOWS)})")
    if args.seconds < MEMORY_SAMPLE_SECONDS or args.long_seconds < MEMORY_SAMPLE_SECONDS:
        parser.error(f"--seconds and --long-seconds must be at least {MEMORY_SAMPLE_SECONDS:g}")
    return args


def run(args: argparse.Namespace) -> tuple[list[WindowResult], HiddenResult | None, list[str]]:
    pinned = pin_this_process(BROWSER_CORE)
    server = Server(*SERVER_OPTIONS)
    server.command[:0] = taskset(SERVER_CORE)  # Server runs its command as given: pin it by a prefix
    results: list[WindowResult] = []
    hidden: HiddenResult | None = None
    with server, sync_playwright() as playwright:
        server_started = time.monotonic()
        browser = launch_chromium(playwright)
        try:
            cores = browser_cores()
            header = [
                f"# Chromium {browser.version}, viewport {VIEWPORT['width']}x{VIEWPORT['height']}; "
                + (
                    f"server on core {SERVER_CORE}, Chromium on core{'s' if len(cores) > 1 else ''} "
                    f"{','.join(map(str, sorted(cores)))}"
                    if pinned
                    else "1 core: server and Chromium share it"
                ),
                f"# feeds: {describe_feeds(server.url)}",
            ]
            for number, window in enumerate(args.windows):
                seconds = args.seconds if number == 0 else args.long_seconds
                progress(f"{window}: measuring for {seconds:g} s")
                results.append(measure(browser, server, window, seconds, server_started, all_series=args.all_series))
                if number == 0 and not args.no_hidden:
                    progress(f"hidden-tab check: window {HIDDEN_WINDOW}, {HIDDEN_SECONDS:g} s hidden")
                    hidden = check_hidden(browser, server, HIDDEN_WINDOW)
        except PlaywrightError as exc:
            raise RuntimeError(f"the browser failed: {exc.message}\nserver log:\n{server.logs()[-2000:]}") from None
        finally:
            browser.close()
    return results, hidden, header


def json_ready(value: Any) -> Any:
    """``value`` with every NaN (a figure not measured) as null, which JSON has and NaN it has not."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results, hidden, header = run(args)
    print(report(results, hidden, header), flush=True)
    if args.json:
        figures = {"windows": [asdict(result) for result in results], "hidden": asdict(hidden) if hidden else None}
        args.json.write_text(json.dumps(json_ready(figures), indent=2, allow_nan=False) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
