"""The page and the server's history: full charts at first paint, no hole after a cut, a gap after a restart."""

from __future__ import annotations

import orjson
from playwright.sync_api import Page, expect
from websockets.sync.client import connect

from tools.harness import FAST_FEED_OPTIONS, Proxy, Server, wait_until_live

from .conftest import PageProblems

PANEL = '[data-testid="panel"]'
BADGE = '[data-testid="connection"]'
# More than live ticks alone could fill between the page's load and its first look (stocks ticks every 0.1 s).
HELD = 40
RECONNECT_TIMEOUT_MS = 15_000
PANEL_STATS_JS = """() => Object.fromEntries([...document.querySelectorAll('[data-testid="panel"]')].map(
    (panel) => [panel.dataset.feed, {points: Number(panel.dataset.points), gaps: Number(panel.dataset.gaps),
                                     firstSeq: Number(panel.dataset.firstSeq)}]))"""
# Every panel has drawn ticks: its data attributes say what it holds. (A panel draws once before any tick comes, and
# the server's replay of held ticks is drawn once it is all in.)
DRAWN_JS = """() => [...document.querySelectorAll('[data-testid="panel"]')].every(
    (panel) => panel.dataset.gaps !== undefined && Number(panel.dataset.points) > 0)"""
MORE_POINTS_JS = """([before, more]) => [...document.querySelectorAll('[data-testid="panel"]')].every(
    (panel) => Number(panel.dataset.points) >= before[panel.dataset.feed].points + more)"""


def wait_until_held(server: Server, feed: str, count: int) -> None:
    """Watch ``feed`` until the server has produced ``count`` ticks of it: its history holds them."""
    with connect(server.url.replace("http://", "ws://") + "ws", open_timeout=5) as ws:
        ws.send(orjson.dumps({"op": "subscribe", "feed": feed}).decode())
        while True:
            message = orjson.loads(ws.recv(timeout=5))
            if message["op"] == "data" and message["seq"] >= count:
                return


def test_a_new_page_paints_its_window_from_the_servers_history(
    server: Server, page: Page, problems: PageProblems
) -> None:
    wait_until_held(server, "stocks", HELD)
    page.goto(server.url)
    wait_until_live(page)
    page.wait_for_function(DRAWN_JS)
    stats = page.evaluate(PANEL_STATS_JS)
    # The page's first tick is one of the server's first, long before it loaded: it came from the history.
    assert stats["stocks"]["firstSeq"] < HELD // 2, stats
    assert stats["stocks"]["gaps"] == 0
    problems.assert_none()


def test_a_cut_connection_resumes_with_no_hole(server: Server, page: Page, problems: PageProblems) -> None:
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    with Proxy(server.port) as proxy:
        page.goto(proxy.url)
        wait_until_live(page)
        page.wait_for_function(DRAWN_JS)
        before = page.evaluate(PANEL_STATS_JS)
        with problems.server_down(), problems.expected(r"WebSocket connection to '[^']+' failed"):
            proxy.cut()  # the page reconnects at once, often too fast to be seen reconnecting
            page.wait_for_function(MORE_POINTS_JS, arg=[before, 10], timeout=RECONNECT_TIMEOUT_MS)
            wait_until_live(page)
        after = page.evaluate(PANEL_STATS_JS)
    assert len(sockets) >= 2  # it did reconnect, through the proxy, to the same server
    # Whatever the cut made the page miss came back from the server's history: no gap point anywhere.
    assert {feed: stats["gaps"] for feed, stats in after.items()} == {feed: 0 for feed in after}
    problems.assert_none()


def test_a_restarted_server_leaves_a_gap_drawn_as_a_gap(server: Server, page: Page, problems: PageProblems) -> None:
    page.goto(server.url)
    wait_until_live(page)
    with problems.server_down():
        assert server.stop() == 0
        with Server(*FAST_FEED_OPTIONS, port=server.port):
            expect(page.locator(BADGE)).to_have_attribute("data-state", "live", timeout=RECONNECT_TIMEOUT_MS)
            page.wait_for_function(
                """() => [...document.querySelectorAll('[data-testid="panel"]')].every(
                    (panel) => Number(panel.dataset.gaps) >= 1)""",
                timeout=RECONNECT_TIMEOUT_MS,
            )
    problems.assert_none()


def test_a_restarted_server_is_a_new_baseline_for_the_quote_table(
    server: Server, page: Page, problems: PageProblems
) -> None:
    """The first run's prices wander far (a huge volatility), the second's stay flat at the start prices: measured
    from the new run, every change reads 0.00%, where measured from the old run's start it would not."""
    assert server.stop() == 0  # its port serves the two runs
    with Server(*FAST_FEED_OPTIONS, "--option", "stocks.seed=1", "--option", "stocks.volatility=50", port=server.port):
        page.goto(server.url)
        wait_until_live(page)
        page.wait_for_function(DRAWN_JS)
    with problems.server_down(), Server(*FAST_FEED_OPTIONS, "--option", "stocks.volatility=0", port=server.port):
        page.wait_for_function(
            """() => Number(document.querySelector('[data-testid="panel"][data-feed="stocks"]').dataset.gaps) >= 1""",
            timeout=RECONNECT_TIMEOUT_MS,
        )
        changes = page.locator(f'{PANEL}[data-feed="stocks"] .quotes__change')
        expect(changes).to_have_text(["0.00%"] * 5, timeout=RECONNECT_TIMEOUT_MS)
    problems.assert_none()
