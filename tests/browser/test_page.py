"""The dashboard page in real Chromium against a real server.py: live charts, live readouts, reconnection."""

from __future__ import annotations

import re
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import Page, expect

from tools.harness import FAST_FEED_OPTIONS, Server, wait_until_live, wait_until_points

from .conftest import PageProblems

# Readouts of ticks arriving every 0.1-0.25 s change well within this.
READOUT_CHANGE_TIMEOUT_MS = 5_000
# The page must notice a closed connection at once; this only absorbs a slow test machine.
RECONNECTING_TIMEOUT_MS = 3_000
# Series colours are saturated; the grid, axes and text are greys. A pixel whose RGB channels differ this much is
# part of a series line (or, a dozen or so of them, of the colour fringes of anti-aliased axis labels).
MIN_LINE_CHROMA = 60
# A chart holding a few seconds spans them across its whole width: each line covers hundreds of such pixels, while
# a chart with nothing drawn has only the label fringes.
DRAWN_SECONDS = 3
DRAWN_TIMEOUT_MS = 10_000
MIN_LINE_PIXELS = 200

PANEL = '[data-testid="panel"]'
BADGE = '[data-testid="connection"]'

READOUT_TEXTS_JS = """() => [...document.querySelectorAll('[data-testid="readout"]')].map((el) => el.textContent)"""

ALL_READOUTS_CHANGED_JS = """(before) => {
    const now = [...document.querySelectorAll('[data-testid="readout"]')].map((el) => el.textContent);
    return now.length === before.length && now.every((text, index) => text !== before[index]);
}"""

LINE_PIXELS_JS = """(minChroma) => [...document.querySelectorAll('[data-testid="panel"]')].map((panel) => ({
    feed: panel.dataset.feed,
    canvases: [...panel.querySelectorAll('[data-testid="chart"] canvas')].map((canvas) => {
        const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
        let coloured = 0;
        for (let i = 0; i < data.length; i += 4) {
            const high = Math.max(data[i], data[i + 1], data[i + 2]);
            const low = Math.min(data[i], data[i + 1], data[i + 2]);
            if (data[i + 3] > 0 && high - low >= minChroma) {
                coloured++;
            }
        }
        return coloured;
    }),
}))"""


def feed_units(server: Server) -> dict[str, set[str]]:
    with urllib.request.urlopen(server.url + "api/feeds", timeout=5) as response:
        feeds = orjson.loads(response.read())
    return {feed["name"]: {field["unit"] for field in feed["fields"]} for feed in feeds}


def assert_readouts_change(page: Page) -> None:
    before = page.evaluate(READOUT_TEXTS_JS)
    page.wait_for_function(ALL_READOUTS_CHANGED_JS, arg=before, timeout=READOUT_CHANGE_TIMEOUT_MS)


def assert_all_states(page: Page, state: str, timeout_ms: float) -> None:
    expect(page.locator(BADGE)).to_have_attribute("data-state", state, timeout=timeout_ms)
    panels = page.locator(PANEL)
    for index in range(panels.count()):
        expect(panels.nth(index)).to_have_attribute("data-state", state, timeout=timeout_ms)


def test_every_feed_gets_a_live_panel_with_drawn_charts_and_changing_readouts(
    server: Server, page: Page, problems: PageProblems
) -> None:
    units = feed_units(server)
    page.goto(server.url)
    wait_until_live(page)

    assert_readouts_change(page)

    wait_until_points(page, DRAWN_SECONDS, DRAWN_TIMEOUT_MS)
    drawn = page.evaluate(LINE_PIXELS_JS, MIN_LINE_CHROMA)
    assert {panel["feed"] for panel in drawn} == set(units)
    for panel in drawn:
        # One chart per unit, each with its lines drawn.
        assert len(panel["canvases"]) == len(units[panel["feed"]]), panel
        assert all(pixels >= MIN_LINE_PIXELS for pixels in panel["canvases"]), panel
    for feed in units:
        assert page.locator(f'{PANEL}[data-feed="{feed}"] .state__label').inner_text() == "Connected"
    problems.assert_none()


def test_the_page_shows_a_stopped_server_and_resumes_with_its_successor(
    server: Server, page: Page, problems: PageProblems
) -> None:
    page.goto(server.url)
    wait_until_live(page)

    with ExitStack() as successor:
        with problems.server_down():
            assert server.stop() == 0, server.logs()
            assert_all_states(page, "reconnecting", RECONNECTING_TIMEOUT_MS)
            expect(page.locator(BADGE)).to_contain_text("Reconnecting")

            successor.enter_context(Server(*FAST_FEED_OPTIONS, port=server.port))
            wait_until_live(page)
        assert_readouts_change(page)
    problems.assert_none()


def test_gaps_are_stored_as_nulls_and_history_stays_bounded(server: Server, page: Page, problems: PageProblems) -> None:
    page.goto(server.url)
    result = page.evaluate(
        """async () => {
            const { FeedHistory } = await import("/static/js/data.js");
            // A window of 8 s in 8 buckets: one second per bucket, room for 10 of them.
            const history = new FeedHistory(1, 8, { buckets: 8 });
            const tick = (run, seq, ts, value) => ({ feed: "f", run, seq, ts, values: Float64Array.of(value) });
            const outcomes = [
                tick(1, 1, 10, 1),
                tick(1, 2, 11, 2),
                tick(1, 2, 11, 2),
                tick(1, 4, 13, 4),
                tick(7, 1, 14, 5),
            ].map((each) => history.append(each));
            const data = [[], []];
            history.ring.fillLines(data, [0], 0, 100);
            for (let seq = 2; seq < 100; seq++) {
                history.append(tick(7, seq, 13 + seq, seq));
            }
            const tail = [[], []];
            history.ring.fillLines(tail, [0], 0, 1000);
            return { outcomes, data, tail, ticks: history.length };
        }"""
    )
    # A repeated seq is dropped; a jump in seq or a new run (whose seq starts again at 1) leaves a gap.
    assert result["outcomes"] == ["continued", "continued", "duplicate", "after_gap", "after_gap"]
    assert result["data"] == [[10, 11, 12, 13, 13.5, 14], [1, 2, None, 4, None, 5]]
    # The ring keeps its 10 newest buckets, oldest first.
    assert result["tail"] == [list(range(103, 113)), list(range(90, 100))]
    assert result["ticks"] == 10
    problems.assert_none()


def test_a_long_window_keeps_min_and_max_per_bucket_and_sums_bars(
    server: Server, page: Page, problems: PageProblems
) -> None:
    page.goto(server.url)
    result = page.evaluate(
        """async () => {
            const { FeedHistory } = await import("/static/js/data.js");
            // An hour in 1,200 buckets of 3 s: 4 ticks a second fall 12 to a bucket.
            const history = new FeedHistory(1, 3600);
            for (let seq = 1; seq <= 4 * 3600; seq++) {
                const ts = 3000 + seq / 4;
                history.append({ feed: "f", run: 1, seq, ts, values: Float64Array.of(seq % 12) });
            }
            const lines = [[], []];
            history.ring.fillLines(lines, [0], 3000, 3000 + 3600);
            const bars = [[], []];
            history.ring.fillBars(bars, [0], 3000, 3000 + 3600, 60);
            return {
                ticks: history.length,
                buckets: history.ring.length,
                points: lines[0].length,
                firstPair: [lines[1][2], lines[1][3]],
                ascending: lines[0].every((x, index) => index === 0 || x > lines[0][index - 1]),
                bars: bars[0].length,
                barSum: bars[1][5],
            };
        }"""
    )
    # 14,400 ticks held in 1,201 buckets (the first and last partly filled); each bucket gives its min and max.
    assert result["ticks"] == 4 * 3600
    assert result["buckets"] == 1201
    assert result["points"] <= 2 * result["buckets"]
    assert result["firstPair"] == [0, 11]
    assert result["ascending"]
    # A bar per minute: 240 ticks whose values 0..11 repeat 20 times.
    assert result["bars"] == 61
    assert result["barSum"] == 20 * sum(range(12))
    problems.assert_none()


def test_a_bucket_draws_its_minimum_and_maximum_in_the_order_they_came_and_the_first_bar_is_whole(
    server: Server, page: Page, problems: PageProblems
) -> None:
    page.goto(server.url)
    result = page.evaluate(
        """async () => {
            const { FeedHistory } = await import("/static/js/data.js");
            const history = new FeedHistory(1, 8, { buckets: 8 }); // one bucket a second
            let seq = 0;
            const add = (ts, value) =>
                history.append({ feed: "f", run: 1, seq: ++seq, ts, values: Float64Array.of(value) });
            // A fall, then a rise.
            [[10.1, 5], [10.5, 1], [10.9, 3], [11.1, 1], [11.5, 5], [11.9, 3]].forEach(([ts, value]) => add(ts, value));
            const lines = [[], []];
            history.ring.fillLines(lines, [0], 10, 12);

            // A minute in buckets of 0.05 s, a tick of 1 share every 0.1 s from 100 s; bars of a second.
            const volumes = new FeedHistory(1, 60);
            for (let tick = 0; tick < 300; tick++) {
                volumes.append({ feed: "f", run: 1, seq: tick + 1, ts: 100 + tick / 10, values: Float64Array.of(1) });
            }
            const bars = [[], []];
            volumes.ring.fillBars(bars, [0], 105.5, 120, 1);
            return { lines, firstBar: [bars[0][0], bars[1][0]], secondBar: bars[1][1] };
        }"""
    )
    assert result["lines"] == [[10.1, 10.9, 11.1, 11.9], [5, 1, 1, 5]]
    # The view starts half-way through a second: that second's bar still counts its 10 ticks.
    assert result["firstBar"] == [105.5, 10]
    assert result["secondBar"] == 10
    problems.assert_none()


PANEL_HARNESS_JS = """
    const { Panel } = await import("/static/js/panel.js");
    const { readTheme } = await import("/static/js/chart.js");
    const feed = {
        name: "probe", description: "", interval: 0.05, simulated: false,
        fields: [{ name: "v", unit: "%" }], status: "ok", failures: 0, error: null,
    };
    const newPanel = () => {
        const panel = new Panel(feed, {
            windowSeconds: 60, timeline: { range: () => [0, 0] }, outages: () => [],
            isHidden: () => false, onToggle: () => {}, onSelect: () => {},
        });
        panel.mount(document.createElement("div"), readTheme(document.documentElement));
        return panel;
    };
    // Ticks every 0.05 s from 1000 s, each valued its seq.
    const tick = (seq) => ({ feed: "probe", run: 1, seq, ts: 1000 + seq / 20, values: Float64Array.of(seq) });
    const ingest = (panel, first, last) => {
        for (let seq = first; seq <= last; seq++) panel.ingest(tick(seq));
    };
    const drawn = (panel, range) => {
        panel.render(range);
        const [xs, values] = panel.plots[0].plot.data;
        return { xs: [...xs], values: [...values] };
    };
"""


def with_panels(page: Page, server: Server, body: str) -> Any:
    """Runs ``body`` (JavaScript, ending in a ``return``) in the page, after PANEL_HARNESS_JS; returns its result."""
    page.goto(server.url)
    return page.evaluate(f"async () => {{ {PANEL_HARNESS_JS} {body} }}")


def test_a_paused_view_keeps_drawing_its_range_however_long_it_stays_paused(
    server: Server, page: Page, problems: PageProblems
) -> None:
    result = with_panels(
        page,
        server,
        """
            const panel = newPanel();
            ingest(panel, 1, 600);
            const range = [1010, 1020];
            panel.pause(range);
            const before = drawn(panel, range);
            // Three more minutes of ticks: far more than the live store keeps (a window and a quarter).
            ingest(panel, 601, 4200);
            const after = drawn(panel, range);
            const liveFrom = panel.history.firstTs;
            panel.goLive();
            const live = drawn(panel, range);
            return { before, after, liveFrom, live: live.xs.length };
        """,
    )
    # The live store has moved on past the paused range...
    assert result["liveFrom"] > 1020
    assert result["live"] <= 1
    # ...and the paused charts still draw every tick of it.
    assert result["after"] == result["before"]
    assert result["before"]["values"][1:-1] == list(range(200, 401))
    problems.assert_none()


def test_a_link_to_a_past_range_asks_the_server_for_it_and_draws_it(
    server: Server, page: Page, problems: PageProblems
) -> None:
    result = with_panels(
        page,
        server,
        """
            const panel = newPanel();
            // Opened paused on a range of ten seconds, two and a half minutes before now (1180 s).
            const range = [1010, 1020];
            panel.pause(range);
            const asked = panel.resumeFrom(1180);
            // What the server replays for it, then live ticks.
            ingest(panel, 1, 3600);
            const paused = drawn(panel, range);
            // Longer than the window: drawn in coarser buckets, still all of it.
            const wide = newPanel();
            wide.pause([1000, 1150]);
            ingest(wide, 1, 3600);
            const whole = drawn(wide, [1000, 1150]);
            return { asked, paused, live: newPanel().resumeFrom(1180), wide: [whole.xs[0], whole.xs.at(-1)] };
        """,
    )
    # A window's worth would not reach back to the range: the page asks for every tick since its start.
    assert result["asked"] == {"history": 4250}
    assert result["live"] == {"history": 1500}
    assert result["paused"]["values"][1:-1] == list(range(200, 401))
    assert result["wide"][0] <= 1000.05 and result["wide"][1] >= 1149.9
    problems.assert_none()


def test_values_are_formatted_with_their_units(server: Server, page: Page, problems: PageProblems) -> None:
    page.goto(server.url)
    result = page.evaluate(
        """async () => {
            const { axisValues, formatAge, formatChange, formatValue } = await import("/static/js/format.js");
            return {
                values: [
                    [12.345, "%"], [512, "B/s"], [1234567, "B/s"], [191.372, "$"], [1200, "shares"], [0.5312, ""],
                    [12345.6, ""], [3, "rpm"], [NaN, "%"], [4.5e9, "B"],
                ].map(([value, unit]) => formatValue(value, unit)),
                byteAxis: axisValues("B/s")(null, [0, 250000, 500000], 1, 0, 250000),
                bytesAxis: axisValues("B")(null, [0, 2e9, 4e9], 1, 0, 2e9),
                dollarAxis: axisValues("$")(null, [190, 190.5, 191], 1, 0, 0.5),
                changes: [1.254, -0.4, 0.001, -0.004, NaN].map(formatChange),
                ages: [80.4, 1234, 14_400, 190_000].map(formatAge),
            };
        }"""
    )
    assert result["values"] == [
        "12.3%",
        "512 B/s",
        "1.23 MB/s",
        "$191.37",
        "1,200 shares",
        "0.531",
        "12,346",
        "3 rpm",
        "—",
        "4.50 GB",
    ]
    assert result["byteAxis"] == ["0 kB/s", "250 kB/s", "500 kB/s"]
    assert result["bytesAxis"] == ["0 GB", "2 GB", "4 GB"]
    assert result["dollarAxis"] == ["$190.00", "$190.50", "$191.00"]
    assert result["changes"] == ["+1.25%", "\u22120.40%", "0.00%", "0.00%", "—"]
    assert result["ages"] == ["80 ms", "1.2 s", "14 s", "3 min"]
    problems.assert_none()


QUOTES_JS = f"""() => [...document.querySelectorAll('{PANEL}[data-feed="stocks"] [data-testid="quotes"] tbody tr')].map(
    (row) => {{
        const spark = row.querySelector("svg.sparkline");
        return {{
            subject: row.dataset.subject,
            numbers: [...row.querySelectorAll(".quotes__number")].map((cell) => cell.textContent),
            size: [spark.clientWidth, spark.clientHeight],
            path: spark.querySelector("path").getAttribute("d") ?? "",
            stroke: getComputedStyle(spark).stroke,
            markerStroke: getComputedStyle(row.querySelector("th .marker")).stroke,
        }};
    }})"""
# The sparkline leaves a tenth of its values' span above the highest and below the lowest.
SPARK_PADDING = 0.1
SPARK_POINTS = 10


def test_the_quote_table_gives_each_symbols_price_change_volume_and_sparkline(
    server: Server, page: Page, problems: PageProblems
) -> None:
    page.goto(server.url)
    with urllib.request.urlopen(server.url + "api/feeds", timeout=5) as response:
        stocks = next(feed for feed in orjson.loads(response.read()) if feed["name"] == "stocks")
    symbols = [field["name"].split(".")[0] for field in stocks["fields"] if field["unit"] == "$"]
    # Sparklines are drawn once a second: wait for a drawn line in every row.
    page.wait_for_function(
        f"""() => {{
            const rows = ({QUOTES_JS})();
            return rows.length > 0 && rows.every((row) => (row.path.match(/[ML]/g) ?? []).length >= {SPARK_POINTS});
        }}""",
        timeout=DRAWN_TIMEOUT_MS,
    )
    rows = page.evaluate(QUOTES_JS)
    assert [row["subject"] for row in rows] == symbols
    # The panel says its data is simulated; the system panel's is not.
    expect(page.locator(f'{PANEL}[data-feed="stocks"] [data-testid="simulated"]')).to_have_text("Simulated data")
    expect(page.locator(f'{PANEL}[data-feed="system"] [data-testid="simulated"]')).to_have_count(0)
    for row in rows:
        price, change, volume = row["numbers"]
        assert re.fullmatch(r"\$[\d,]+\.\d\d", price), row
        assert re.fullmatch(r"[+\u2212]?\d+\.\d\d%", change), row
        assert re.fullmatch(r"[\d,]+ shares", volume), row
        # The symbol's colour on the chart, and a line from its lowest to its highest value, padded within the box
        # (points just past its edges are drawn clipped).
        assert row["stroke"] == row["markerStroke"], row
        width, height = row["size"]
        points = [tuple(map(float, pair.split())) for pair in re.split(r"[ML]", row["path"]) if pair]
        ys = [y for x, y in points if 0 <= x <= width]
        margin = height * SPARK_PADDING / (1 + 2 * SPARK_PADDING)
        assert min(ys) == pytest.approx(margin, abs=0.1), row
        assert max(ys) == pytest.approx(height - margin, abs=0.1), row
    problems.assert_none()


def test_a_sparkline_keeps_each_columns_first_lowest_highest_and_last_value_and_breaks_at_gaps(
    server: Server, page: Page, problems: PageProblems
) -> None:
    page.goto(server.url)
    paths = page.evaluate(
        """async () => {
            const { Sparkline } = await import("/static/js/sparkline.js");
            // 10 x 12 px across 10 s: a pixel column a second.
            const draw = (xs, values) => {
                const line = new Sparkline({ width: 10, height: 12, color: 0 });
                line.draw(xs, values, 0, 10);
                return line.path.getAttribute("d");
            };
            return {
                // Within [0, 10] the values run from 0 to 10, so y = 11 - value; 100 is past the range's end.
                columns: draw([0.1, 0.2, 0.3, 0.4, 0.5, 2.5, 3.5, 4.5, 11.5], [5, 10, 0, 7, 6, null, 3, 4, 100]),
                level: draw([0.5, 5.5], [2, 2]),
                notANumber: draw([0.5, 1.5, 2.5], [1, NaN, 3]),
                empty: draw([], []),
                outside: draw([10.5, 11.5], [1, 2]),
            };
        }"""
    )
    assert paths == {
        # Column 0 keeps 5, 10, 0 and 6, in that order (not 7); the gap starts a new line.
        "columns": "M0 6.0L0 1.0L0 11.0L0 5.0M3 8.0L4 7.0L11 -89.0",
        "level": "M0 6.0L5 6.0",
        "notANumber": "M0 11.0M2 1.0",
        "empty": None,
        "outside": None,
    }
    problems.assert_none()


FLAKY_PLUGIN = """
from feeds import Feed, Field

class Sensor(Feed):
    name = "sensor"
    interval = 0.1
    fields = (Field("temp_c", "°C"),)

    def __init__(self, **options):
        super().__init__(**options)
        self.calls = 0

    def sample(self):
        self.calls += 1
        if 10 <= self.calls < 30:
            raise ConnectionError("sensor stopped answering")
        return {"temp_c": 20.0 + self.calls % 5}
"""


def test_a_failing_feed_says_so_on_its_panel_and_recovers(tmp_path: Path, page: Page, problems: PageProblems) -> None:
    plugin = tmp_path / "sensor.py"
    plugin.write_text(FLAKY_PLUGIN)
    with Server(*FAST_FEED_OPTIONS, "--feed", str(plugin)) as server:
        page.goto(server.url)
        sensor = page.locator(f'{PANEL}[data-feed="sensor"]')
        # Samples 10 to 29 fail: the panel says "failing", with the error, while the other feeds stay live.
        expect(sensor).to_have_attribute("data-state", "failing", timeout=READOUT_CHANGE_TIMEOUT_MS)
        expect(sensor.get_by_test_id("health")).to_contain_text("ConnectionError: sensor stopped answering")
        expect(sensor.locator(".state")).to_have_text("Feed failing")
        expect(page.locator(f'{PANEL}[data-feed="stocks"]')).to_have_attribute("data-state", "live")
        expect(page.locator(BADGE)).to_have_attribute("data-state", "live")
        # From sample 30 on it works again: live, and the message is gone.
        expect(sensor).to_have_attribute("data-state", "live", timeout=READOUT_CHANGE_TIMEOUT_MS)
        expect(sensor.get_by_test_id("health")).to_be_hidden()
    problems.assert_none()


LATE_PLUGIN = """
import asyncio

from feeds import Feed


class Late(Feed):
    name = "late"
    interval = 0.25
    timeout = 10.0

    async def sample(self):
        # No fields declared: they come with the first sample, which takes its time.
        if not getattr(self, "started", False):
            await asyncio.sleep(LATE_FIRST_SAMPLE_S)
            self.started = True
        return {"level": 3.0, "flow": 7.0}
"""
LATE_FIRST_SAMPLE_S = 3.0


def test_a_feed_without_fields_is_drawn_once_its_late_first_sample_comes(
    tmp_path: Path, page: Page, problems: PageProblems
) -> None:
    """The page subscribes before the feed's first sample; the server holds the subscribe until it comes, and the
    panel, built without fields, is built again with the fields the answer brings, and goes live."""
    plugin = tmp_path / "late.py"
    plugin.write_text(LATE_PLUGIN.replace("LATE_FIRST_SAMPLE_S", repr(LATE_FIRST_SAMPLE_S)))
    with Server(*FAST_FEED_OPTIONS, "--feed", str(plugin)) as server:
        page.goto(server.url)
        late = page.locator(f'{PANEL}[data-feed="late"]')
        expect(late).to_have_attribute("data-state", "live", timeout=READOUT_CHANGE_TIMEOUT_MS)
        expect(late.get_by_test_id("health")).to_be_hidden()
        expect(late).not_to_have_attribute("data-points", "0")
        assert "differ from" not in (late.text_content() or "")
    problems.assert_none()
