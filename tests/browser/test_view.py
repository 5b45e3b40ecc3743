"""The page's view in real Chromium: zoom and pause, time windows, the view in the URL, legends, themes, keyboard,
stale feeds, disconnected spans and the phone layout."""

from __future__ import annotations

import itertools
import re
import signal
import time
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, Page, Route, WebSocketRoute, expect

from tools.harness import FAST_FEED_OPTIONS, Server, wait_until_live, wait_until_points

from .conftest import LOCALE, PageProblems

PANEL = '[data-testid="panel"]'
CHART = '[data-testid="chart"]'
BADGE = '[data-testid="connection"]'
VIEW_STATE = '[data-testid="view-state"]'
DATA_SECONDS = 3
DATA_TIMEOUT_MS = 15_000
# Ticks every 0.1-0.25 s: silence of five intervals (at least 1.5 s) makes a feed stale; this absorbs a slow machine.
STALE_TIMEOUT_MS = 8_000
RECONNECT_TIMEOUT_MS = 15_000
PHONE_WIDTH = 390

CHART_RANGES_JS = f"""() => [...document.querySelectorAll('{PANEL}:not([hidden]) {CHART}')].map(
    (chart) => [Number(chart.dataset.from), Number(chart.dataset.to)])"""
POINTS_JS = f"""() => Object.fromEntries([...document.querySelectorAll('{PANEL}')].map(
    (panel) => [panel.dataset.feed, Number(panel.dataset.points)]))"""


# The commonest colour of a column of the plot (its bare background, whatever lines cross it), in the middle of
# each line chart's first band and a little left of it. (A bar may cover a bar chart's column.)
BAND_COLOURS_JS = f"""() => [...document.querySelectorAll('{CHART}:not([data-kind="bars"])')].map((chart) => {{
    const [left, right] = JSON.parse(chart.dataset.bands)[0];
    const canvas = chart.querySelector("canvas");
    const over = chart.querySelector(".u-over");
    const ratio = canvas.width / canvas.clientWidth;
    const commonest = (x) => {{
        const {{ data }} = canvas.getContext("2d").getImageData(
            Math.round((over.offsetLeft + x) * ratio), Math.round(over.offsetTop * ratio), 1,
            Math.round(over.clientHeight * ratio));
        const counts = new Map();
        for (let i = 0; i < data.length; i += 4) {{
            const key = data.slice(i, i + 4).join(",");
            counts.set(key, (counts.get(key) ?? 0) + 1);
        }}
        return [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0].split(",").map(Number);
    }};
    return {{ inside: commonest((left + right) / 2), outside: commonest(Math.max(1, left - 15)) }};
}})"""


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def chart_ranges(page: Page) -> list[list[float]]:
    ranges: list[list[float]] = page.evaluate(CHART_RANGES_JS)
    return ranges


def open_live(page: Page, url: str) -> None:
    page.goto(url)
    wait_until_live(page)
    wait_until_points(page, DATA_SECONDS, DATA_TIMEOUT_MS)


def drag_across(page: Page, start: float, end: float) -> None:
    """Drag across the first chart's plot, from `start` to `end` (fractions of its width)."""
    box = page.locator(f"{CHART} .u-over").first.bounding_box()
    assert box is not None
    middle = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, middle)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (start + end) / 2, middle, steps=4)
    page.mouse.move(box["x"] + box["width"] * end, middle, steps=4)
    page.mouse.up()


def test_hovering_shows_every_value_and_never_stops_the_data(
    server: Server, page: Page, problems: PageProblems
) -> None:
    open_live(page, server.url)
    over = page.locator(f"{PANEL}[data-feed='stocks'] {CHART} .u-over").first
    box = over.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tooltip = page.locator(f"{PANEL}[data-feed='stocks'] {CHART}").first.get_by_test_id("tooltip")
    expect(tooltip).to_be_visible()
    assert tooltip.locator(".tooltip__row:not([hidden])").count() == 5
    end = chart_ranges(page)[0][1]
    page.wait_for_function(f"(end) => ({CHART_RANGES_JS})().every(([, to]) => to > end + 1)", arg=end)
    expect(tooltip).to_be_visible()

    # A click is not a drag: the view stays live.
    page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    end = chart_ranges(page)[0][1]
    page.wait_for_function(f"(end) => ({CHART_RANGES_JS})().every(([, to]) => to > end + 1)", arg=end)
    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "false")
    problems.assert_none()


def test_reduced_motion_stops_every_animation(server: Server, browser: Browser, problems: PageProblems) -> None:
    context = browser.new_context(reduced_motion="reduce", locale=LOCALE)
    try:
        page = context.new_page()
        page.goto(server.url)
        wait_until_live(page)
        names = page.evaluate(
            """() => [...document.querySelectorAll(".state__dot")].map((dot) => getComputedStyle(dot).animationName)"""
        )
        assert names and set(names) == {"none"}, names
    finally:
        context.close()
    problems.assert_none()


def test_a_paused_view_reads_live_only_on_the_button_that_returns_to_it(
    server: Server, page: Page, problems: PageProblems
) -> None:
    """The connection and the panels say "Connected"; "Live" names the view (before, the pill and every panel badge
    read "Live" beside "Paused"). The product's name in the brand, "Live dashboard", names no state."""
    open_live(page, server.url)
    drag_across(page, 0.3, 0.6)
    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "true")
    expect(page.locator('[data-testid="connection"] .state__label')).to_have_text("Connected")
    lives = page.evaluate(
        """() => [...document.querySelectorAll("body *:not(.brand *)")].filter((node) => node.children.length === 0
            && /\\bLive\\b/.test(node.textContent)).map((node) => node.id || node.className)"""
    )
    assert lives == ["live"], lives
    problems.assert_none()


def test_a_drag_zooms_every_chart_and_pauses_while_ticks_are_stored_until_live(
    server: Server, page: Page, problems: PageProblems
) -> None:
    open_live(page, server.url)
    live = chart_ranges(page)
    drag_across(page, 0.3, 0.6)

    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "true")
    expect(page.locator(VIEW_STATE)).to_contain_text("Paused")
    paused = chart_ranges(page)
    # Every chart of every panel shows the one range dragged across, a part of what was shown.
    assert len({tuple(each) for each in paused}) == 1, paused
    (start, end), (live_start, live_end) = paused[0], live[0]
    # (The live range moves on between the look and the drag: compare spans.)
    assert live_start < start < end and end - start < (live_end - live_start) * 0.5
    assert [float(query(page)["from"][0]), float(query(page)["to"][0])] == paused[0]

    # Paused, the charts stay put while the ticks keep coming in.
    before = page.evaluate(POINTS_JS)
    page.wait_for_function(
        "(before) => Object.entries(before).every(([feed, points]) => Number("
        "document.querySelector(`[data-testid='panel'][data-feed='${feed}']`).dataset.points) > points + 5)",
        arg=before,
    )
    assert chart_ranges(page) == paused

    page.keyboard.press("Escape")
    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "false")
    assert "from" not in query(page)
    page.wait_for_function(f"(end) => ({CHART_RANGES_JS})().every(([, to]) => to > end)", arg=end)

    # The Live button does the same.
    drag_across(page, 0.2, 0.5)
    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "true")
    page.get_by_test_id("live").click()
    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "false")
    problems.assert_none()


def test_paused_every_figure_of_the_readout_is_the_paused_ranges(
    server: Server, page: Page, problems: PageProblems
) -> None:
    """Paused, the quote table's price and change stay at the range's end, like the charts, and say so."""
    open_live(page, server.url)
    stocks = page.locator(f"{PANEL}[data-feed='stocks']")
    figures_js = """(panel) => [...panel.querySelectorAll(
        '[data-testid="quotes"] .quotes__number, .readout__value')].map((cell) => cell.textContent)"""
    drag_across(page, 0.3, 0.6)
    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "true")
    note = stocks.get_by_test_id("readout-note")
    expect(note).to_contain_text("Paused: prices at")
    expect(page.locator(f"{PANEL}[data-feed='system']").get_by_test_id("readout-note")).to_contain_text("values at")
    # The note is written with the first figures of the paused range.
    paused = stocks.evaluate(figures_js)
    points = int(stocks.get_attribute("data-points") or 0)
    page.wait_for_function(
        f"(points) => Number(document.querySelector(`{PANEL}[data-feed='stocks']`).dataset.points) > points + 10",
        arg=points,
    )
    # The live prices moved on; the paused figures did not.
    assert stocks.evaluate(figures_js) == paused

    page.get_by_test_id("live").click()
    expect(note).to_be_hidden()
    problems.assert_none()


def test_a_longer_window_fills_from_the_servers_history(server: Server, page: Page, problems: PageProblems) -> None:
    open_live(page, server.url)
    held = page.evaluate(POINTS_JS)
    page.locator("#windows button[data-window='5m']").click()

    expect(page.locator("#windows button[aria-pressed='true']")).to_have_text("5 min")
    assert query(page)["window"] == ["5m"]
    # The panels start over at the new resolution, with every tick the server held (from seq 1: it is young).
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('{PANEL}')].every(
            (panel) => panel.dataset.firstSeq === "1" && Number(panel.dataset.points) >= held[panel.dataset.feed]
                && panel.dataset.gaps === "0")""".replace("() =>", "(held) =>"),
        arg=held,
    )
    wait_until_live(page)
    for start, end in chart_ranges(page):
        assert end - start <= 300
    # A bar's height depends on how long it covers, so its caption says how long.
    bars = page.locator(f"{PANEL}[data-feed='stocks'] {CHART}[data-kind='bars'] figcaption")
    expect(bars).to_have_text(re.compile(r"traded per \d+(\.\d+)? (s|min)$"))
    problems.assert_none()


def test_the_url_gives_the_view_and_the_tab_remembers_it(server: Server, page: Page, problems: PageProblems) -> None:
    page.goto(server.url + "?window=15m&hide=stocks:AAPL,system:cpu0&feeds=stocks")
    wait_until_live(page)

    expect(page.locator("#windows button[aria-pressed='true']")).to_have_text("15 min")
    expect(page.locator(f"{PANEL}[data-feed='system']")).to_be_hidden()
    expect(page.locator("#feed-toggles button[data-feed='system']")).to_have_attribute("aria-pressed", "false")
    expect(page.locator(f"{PANEL}[data-feed='stocks'] button[data-series='AAPL']")).to_have_attribute(
        "aria-pressed", "false"
    )

    # A legend button hides its series; the URL says so.
    page.locator(f"{PANEL}[data-feed='stocks'] button[data-series='MSFT']").click()
    expect(page.locator(f"{PANEL}[data-feed='stocks'] button[data-series='MSFT']")).to_have_attribute(
        "aria-pressed", "false"
    )
    assert set(query(page)["hide"][0].split(",")) == {"stocks:AAPL", "stocks:MSFT", "system:cpu0"}
    page.locator("#feed-toggles button[data-feed='system']").click()
    expect(page.locator(f"{PANEL}[data-feed='system']")).to_be_visible()
    assert "feeds" not in query(page)

    # The dashboard's bare address, in the same tab, comes back to the same view.
    page.goto(server.url)
    wait_until_live(page)
    assert query(page)["window"] == ["15m"]
    expect(page.locator(f"{PANEL}[data-feed='system'] button[data-series='cpu0']")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(page.locator(f"{PANEL}[data-feed='stocks'] button[data-series='MSFT']")).to_have_attribute(
        "aria-pressed", "false"
    )

    # A paused range in a link opens paused on it: a range a second short of the newest tick, once the server has
    # held two seconds of ticks (a young server's range would hold none).
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('{PANEL}')].every(
            (panel) => Number(panel.dataset.points) * Number(panel.dataset.interval) >= 2)"""
    )
    start, end = chart_ranges(page)[0]
    page.goto(f"{server.url}?from={start + 1}&to={end - 1}")
    wait_until_live(page)
    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "true")
    page.wait_for_function(
        f"([start, end]) => ({CHART_RANGES_JS})().every(([from, to]) => from === start && to === end)",
        arg=[start + 1, end - 1],
    )
    # Its panels were made paused: they draw from a store of the range, filled from the server's history.
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{PANEL}')].every((panel) => Number(panel.dataset.pausedPoints) > 0)"
    )
    problems.assert_none()


def theme_colours(page: Page) -> dict[str, str]:
    colours: dict[str, str] = page.evaluate(
        """() => ({
            theme: document.documentElement.dataset.theme,
            background: getComputedStyle(document.body).backgroundColor,
            text: getComputedStyle(document.body).color,
        })"""
    )
    return colours


def test_the_theme_follows_the_system_until_picked_and_is_remembered(
    server: Server, browser: Browser, problems: PageProblems
) -> None:
    context = browser.new_context(color_scheme="light", locale=LOCALE)
    try:
        page = context.new_page()
        page_problems = PageProblems(page)
        open_live(page, server.url)
        light = theme_colours(page)
        assert light["theme"] == "light"
        page.emulate_media(color_scheme="dark")
        page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
        dark = theme_colours(page)
        assert dark["background"] != light["background"]

        page.locator("#themes button[data-choice='light']").click()
        assert theme_colours(page) == light
        # The charts were drawn again in the light theme's colours: the light series blue is on the canvas.
        page.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid="chart"] canvas')].some((canvas) => {
                const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
                for (let i = 0; i < data.length; i += 4) {
                    if (data[i] < 20 && Math.abs(data[i + 1] - 114) < 20 && Math.abs(data[i + 2] - 178) < 20) {
                        return true;
                    }
                }
                return false;
            })"""
        )
        page.reload()
        wait_until_live(page)
        # Picked, it stays, whatever the system says.
        assert theme_colours(page) == light
        expect(page.locator("#themes button[data-choice='light']")).to_have_attribute("aria-pressed", "true")
        page_problems.assert_none()
    finally:
        context.close()
    problems.assert_none()


LIGHT_BACKGROUND = "rgb(244, 246, 250)"  # --bg of the light theme (style.css)


def test_a_light_page_is_light_from_its_first_paint(server: Server, browser: Browser, problems: PageProblems) -> None:
    context = browser.new_context(color_scheme="light", locale=LOCALE)
    try:
        page = context.new_page()
        page_problems = PageProblems(page)
        # The page's modules are held back: what shows until they run is what the HTML and the stylesheet paint.
        held: list[Route] = []

        def hold(route: Route) -> None:  # Playwright's handler must be a Python function, not a bound builtin
            held.append(route)

        page.route("**/static/js/main.js", hold)
        page.goto(server.url, wait_until="commit")
        page.wait_for_function("() => document.styleSheets.length >= 2 && document.body !== null")
        page.wait_for_function(f"() => getComputedStyle(document.body).backgroundColor === '{LIGHT_BACKGROUND}'")
        assert held, "the modules ran before the first look"
        held[0].continue_()
        wait_until_live(page)
        assert theme_colours(page)["background"] == LIGHT_BACKGROUND
        page_problems.assert_none()
    finally:
        context.close()
    problems.assert_none()


def test_the_keyboard_moves_the_cursor_of_every_chart(server: Server, page: Page, problems: PageProblems) -> None:
    open_live(page, server.url)
    chart = page.locator(f"{PANEL}[data-feed='system'] {CHART}").first
    plot = chart.locator(".chart__plot")
    plot.focus()
    tooltip = chart.get_by_test_id("tooltip")
    expect(tooltip).to_be_visible()
    latest = tooltip.locator(".tooltip__time").text_content()
    for _ in range(12):
        plot.press("ArrowLeft")
    expect(tooltip.locator(".tooltip__time")).not_to_have_text(latest or "")
    # The tooltip tells every shown series' value; the other charts' legends follow the same cursor.
    assert tooltip.locator(".tooltip__row:not([hidden]) .tooltip__value").count() == 5
    other = page.locator(f"{PANEL}[data-feed='stocks'] {CHART}").first
    expect(other.locator(".legend__value").first).not_to_have_text("")
    # What the cursor is on is read out, once per key.
    announcer = chart.get_by_test_id("announcer")
    assert announcer.get_attribute("aria-live") == "polite"
    expect(announcer).to_contain_text("cpu ")
    # The connection's state and the view's (live or paused) are live regions too, read out as they change.
    expect(page.locator(BADGE)).to_have_attribute("role", "status")
    expect(page.locator(VIEW_STATE)).to_have_attribute("role", "status")

    # + zooms in around the cursor (and pauses), Escape returns to live.
    plot.press("+")
    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "true")
    page.keyboard.press("Escape")
    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "false")

    # Controls are buttons: reachable with Tab, pressed with Enter.
    page.locator("#windows button").first.focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#windows button[aria-pressed='true']")).to_have_text("5 min")
    problems.assert_none()


def test_a_silent_feed_is_stale_and_live_again_when_it_ticks(
    server: Server, page: Page, problems: PageProblems
) -> None:
    open_live(page, server.url)
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)  # the connection stays open; nothing comes
    try:
        for feed in ("system", "stocks"):
            panel = page.locator(f"{PANEL}[data-feed='{feed}']")
            expect(panel).to_have_attribute("data-state", "stale", timeout=STALE_TIMEOUT_MS)
            expect(panel.locator(".state__label")).to_have_text("Stale")
            expect(panel.get_by_test_id("freshness")).to_contain_text("silent for")
    finally:
        server.process.send_signal(signal.SIGCONT)
    wait_until_live(page)
    expect(page.locator(f"{PANEL}[data-feed='stocks']").get_by_test_id("freshness")).to_contain_text(" old")
    problems.assert_none()


# A browser whose clock is 45 s ahead of the server's (as a laptop without NTP can be).
SKEWED_CLOCK_JS = "const realNow = Date.now.bind(Date); Date.now = () => realNow() + 45_000;"
# Ticks every 0.1-0.25 s are drawn within a frame or two; this only absorbs a slow machine.
MAX_FRESH_AGE_MS = 3_000


def test_freshness_is_told_by_the_servers_clock_not_the_browsers(
    server: Server, page: Page, problems: PageProblems
) -> None:
    page.add_init_script(SKEWED_CLOCK_JS)
    open_live(page, server.url)
    assert page.evaluate("() => Date.now() / 1000") - time.time() > 40  # the page's clock is off
    page.wait_for_function(
        f"""(limit) => [...document.querySelectorAll('{PANEL}')].every(
            (panel) => panel.dataset.ageMs !== undefined && Number(panel.dataset.ageMs) < limit)""",
        arg=MAX_FRESH_AGE_MS,
    )
    expect(page.locator(f"{PANEL}[data-feed='stocks']").get_by_test_id("freshness")).to_contain_text("ms old")
    problems.assert_none()


def test_the_span_the_page_was_disconnected_is_shaded(server: Server, page: Page, problems: PageProblems) -> None:
    open_live(page, server.url)
    with problems.server_down():
        assert server.stop() == 0
        expect(page.locator(BADGE)).to_have_attribute("data-state", "reconnecting")
        # While away, the span grows at the right edge of every chart.
        page.wait_for_function(
            f"() => [...document.querySelectorAll('{CHART}')].every("
            "(chart) => JSON.parse(chart.dataset.bands || '[]').some(([left, right]) => right - left >= 20))",
            timeout=RECONNECT_TIMEOUT_MS,
        )
        with Server(*FAST_FEED_OPTIONS, port=server.port):
            wait_until_live(page, RECONNECT_TIMEOUT_MS)
            # Every chart has drawn since the reconnect, the band still on it.
            page.wait_for_function(
                f"() => [...document.querySelectorAll('{CHART}')].every("
                "(chart) => JSON.parse(chart.dataset.bands || '[]').length > 0)",
                timeout=RECONNECT_TIMEOUT_MS,
            )
            bands = page.evaluate(BAND_COLOURS_JS)
    # The band is painted: the plot's bare background is tinted red inside it.
    for band in bands:
        assert band["inside"][0] > band["outside"][0] + 10, band
    problems.assert_none()


def test_the_first_eight_series_of_a_chart_differ_in_dash_as_well_as_colour(
    server: Server, page: Page, problems: PageProblems
) -> None:
    open_live(page, server.url)
    legends = page.evaluate(
        f"""() => [...document.querySelectorAll('{CHART} [data-testid="legend"]')].map((legend) =>
            [...legend.querySelectorAll(".marker")].slice(0, 8).map((marker) => ({{
                colour: getComputedStyle(marker).stroke,
                dash: marker.querySelector("line").getAttribute("stroke-dasharray") ?? "solid",
            }})))"""
    )
    assert any(len(markers) > 4 for markers in legends)
    for markers in legends:
        for one, other in itertools.combinations(markers, 2):
            assert one["colour"] != other["colour"], markers
            assert one["dash"] != other["dash"], markers  # colour is never the only difference
    problems.assert_none()


def test_the_charts_of_a_panel_start_their_plots_at_one_x(server: Server, page: Page, problems: PageProblems) -> None:
    """One instant is one vertical line down a panel: every chart's y axis takes the panel's widest labels' width."""
    open_live(page, server.url)
    lefts = page.evaluate(
        f"""() => Object.fromEntries([...document.querySelectorAll('{PANEL}')].map((panel) => [
            panel.dataset.feed,
            [...panel.querySelectorAll('{CHART} .u-over')].map((over) => over.getBoundingClientRect().left),
        ]))"""
    )
    assert sum(len(edges) for edges in lefts.values()) > len(lefts), lefts  # a panel with more than one chart
    for edges in lefts.values():
        assert len(set(edges)) == 1, lefts
    problems.assert_none()


def test_a_phone_gets_one_column_and_nothing_wider_than_the_screen(
    server: Server, browser: Browser, problems: PageProblems
) -> None:
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844}, locale=LOCALE, is_mobile=True)
    try:
        page = context.new_page()
        page_problems = PageProblems(page)
        open_live(page, server.url)
        layout = page.evaluate(
            f"""() => ({{
                scrollWidth: document.documentElement.scrollWidth,
                lefts: [...document.querySelectorAll('{PANEL}')].map((panel) => panel.getBoundingClientRect().left),
            }})"""
        )
        assert layout["scrollWidth"] <= PHONE_WIDTH, layout
        assert len(set(layout["lefts"])) == 1, layout
        # The quote table keeps its Volume column, and numeric headers sit over their right-aligned numbers.
        quotes = page.locator(f"{PANEL}[data-feed='stocks']").get_by_test_id("quotes")
        expect(quotes.get_by_role("columnheader", name="Volume")).to_be_visible()
        aligns = quotes.evaluate(
            """(table) => [...table.querySelectorAll("thead th")].map(
                (th) => [th.textContent, getComputedStyle(th).textAlign])"""
        )
        assert [text for text, align in aligns if align == "right"] == ["Price", "Change", "Volume"], aligns
        # Scrolled down, the top bar has gone with the page: the screen is the panels'.
        page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
        page.wait_for_function("() => window.scrollY > 0")
        bottom = page.evaluate("() => document.querySelector('.topbar').getBoundingClientRect().bottom")
        assert bottom <= 0, bottom
        page_problems.assert_none()
    finally:
        context.close()
    problems.assert_none()


TWENTY_SYMBOLS = ",".join(f"S{index:02d}" for index in range(20))


def test_a_crowded_chart_starts_with_its_first_eight_series_and_the_legend_adds_more(
    page: Page, problems: PageProblems
) -> None:
    with Server(*FAST_FEED_OPTIONS, "--option", f"stocks.symbols={TWENTY_SYMBOLS}") as server:
        page.goto(server.url)
        wait_until_live(page)
        legend = page.locator(f"{PANEL}[data-feed='stocks'] {CHART}[data-kind='change'] .legend__item")
        expect(legend).to_have_count(20)
        pressed = [legend.nth(index).get_attribute("aria-pressed") for index in range(20)]
        assert pressed == ["true"] * 8 + ["false"] * 12

        legend.nth(12).click()
        expect(legend.nth(12)).to_have_attribute("aria-pressed", "true")
        assert query(page)["show"] == ["stocks:S12"]
        legend.nth(0).click()
        assert query(page)["hide"] == ["stocks:S00"]
        page.reload()
        wait_until_live(page)
        expect(legend.nth(12)).to_have_attribute("aria-pressed", "true")
        expect(legend.nth(0)).to_have_attribute("aria-pressed", "false")
    problems.assert_none()


def test_a_link_to_a_range_the_server_no_longer_holds_says_so(
    server: Server, page: Page, problems: PageProblems
) -> None:
    page.goto(f"{server.url}?from=1000&to=1010")  # 1970: long before any history the server holds
    wait_until_live(page)
    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "true")
    expect(page.locator(VIEW_STATE)).to_contain_text("1970-01-01 ")  # not today: the date is shown, not only times
    for feed in ("system", "stocks"):
        note = page.locator(f"{PANEL}[data-feed='{feed}']").get_by_test_id("range-note")
        expect(note).to_contain_text("Nothing held for this range")
    # Back to live, the charts fill and the note goes.
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("range-note").first).to_be_hidden()
    problems.assert_none()


def test_a_malformed_view_in_the_url_falls_back_to_defaults(server: Server, page: Page, problems: PageProblems) -> None:
    page.goto(server.url + "?window=2y&from=&to=100&hide=%,stocks:A%2CB,stocks:MSFT&feeds=stocks,system")
    wait_until_live(page)
    expect(page.locator("#windows button[aria-pressed='true']")).to_have_text("1 min")
    expect(page.locator(VIEW_STATE)).to_have_attribute("data-paused", "false")
    expect(page.locator(f"{PANEL}[data-feed='stocks'] button[data-series='MSFT']")).to_have_attribute(
        "aria-pressed", "false"
    )
    # A name with a comma survives the trip; the lone % is dropped.
    page.locator(f"{PANEL}[data-feed='stocks'] button[data-series='MSFT']").click()
    assert query(page)["hide"] == ["stocks:A,B"]
    problems.assert_none()


def test_window_changes_in_quick_succession_end_on_the_last(server: Server, page: Page, problems: PageProblems) -> None:
    open_live(page, server.url)
    for key in ("5m", "1h", "15m"):
        page.locator(f"#windows button[data-window='{key}']").click()
    expect(page.locator("#windows button[aria-pressed='true']")).to_have_text("15 min")
    # Every panel ends on the 15-minute window, refilled from the start of the server's history, with no gap.
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('{PANEL}')].every(
            (panel) => panel.dataset.window === "900" && panel.dataset.firstSeq === "1" && panel.dataset.gaps === "0"
                && panel.dataset.state === "live")"""
    )
    page.wait_for_function(f"() => ({CHART_RANGES_JS})().every(([from, to]) => to - from <= 900)")
    problems.assert_none()


BEHIND_CLOCK_JS = "const realNow = Date.now.bind(Date); Date.now = () => realNow() - 45_000;"


def test_before_the_server_has_told_its_time_a_ticks_age_is_not_guessed(
    server: Server, page: Page, problems: PageProblems
) -> None:
    """Until a pong says the server's time, the page's own clock (here 45 s behind) would make every tick `0 ms old`
    (or any false figure): the freshness says nothing instead. The pings are held back, so no pong comes."""
    page.add_init_script(BEHIND_CLOCK_JS)

    def without_pings(route: WebSocketRoute) -> None:
        upstream = route.connect_to_server()

        def forward(message: str | bytes) -> None:
            if not (isinstance(message, str) and '"op":"ping"' in message.replace(" ", "")):
                upstream.send(message)

        route.on_message(forward)

    page.route_web_socket("**/ws*", without_pings)
    open_live(page, server.url)
    stocks = page.locator(f"{PANEL}[data-feed='stocks']")
    page.wait_for_function(
        "(selector) => Number(document.querySelector(selector).dataset.points) > 5", arg=f"{PANEL}[data-feed='stocks']"
    )
    expect(stocks.get_by_test_id("freshness")).to_have_text("")
    assert stocks.get_attribute("data-age-ms") is None
    problems.assert_none()


def test_a_tooltip_near_the_bottom_of_a_plot_stays_off_the_legend(
    server: Server, page: Page, problems: PageProblems
) -> None:
    open_live(page, server.url)
    chart = page.locator(f"{PANEL}[data-feed='stocks'] {CHART}").first
    over = chart.locator(".u-over")
    box = over.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] - 2)
    tooltip = chart.get_by_test_id("tooltip")
    expect(tooltip).to_be_visible()
    shown = tooltip.bounding_box()
    legend = chart.locator(".legend, .u-legend, [data-testid=legend]").first.bounding_box()
    assert shown is not None and legend is not None
    assert shown["y"] + shown["height"] <= box["y"] + box["height"] + 1  # inside the plot
    assert shown["y"] + shown["height"] <= legend["y"] + 1  # above the legend, not over it
    problems.assert_none()
