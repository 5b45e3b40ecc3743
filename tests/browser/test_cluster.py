"""The page of a cluster in real Chromium: two server.py nodes on a real redis-server, a panel per host, and feeds
that no server produces (Redis gone, a node stopped) shown stale while the page stays connected."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack

import orjson
import pytest
from playwright.sync_api import Locator, Page, expect

from tools.harness import FAST_FEED_OPTIONS, LIVE_TIMEOUT_MS, Server, wait_until_live
from tools.redisserver import RedisServer

from .conftest import PageProblems

PANEL = '[data-testid="panel"]'
BADGE = '[data-testid="connection"]'
NODES = ("node-a", "node-b")
FEEDS = {"stocks", "system@node-a", "system@node-b"}
# A short TTL, so that a stopped node's feed is declared leaderless within a couple of seconds.
LEADER_TTL_S = 1
# Each node learns of the other's per-host feed within a round of the lease (a third of the TTL); this only absorbs a
# slow machine.
DISCOVERY_TIMEOUT_S = 15.0
# A node notices a lost Redis at its next append (every 0.1 s); a feed nobody leads is stale after a TTL or two.
STALE_TIMEOUT_MS = 10_000
# Longer than any of these feeds stays silent before the page itself calls it stale (5 intervals, at least 1.5 s),
# plus the 0.5 s between its looks for silent feeds.
SILENT_MS = 3_000
BROKER_LOST = "this server lost its broker"
LEADERLESS = "no server produces this feed"
POINTS_JS = f"""() => Object.fromEntries([...document.querySelectorAll('{PANEL}')].map(
    (panel) => [panel.dataset.feed, panel.dataset.points]))"""

SILENT_JS = (
    f"""(limit) => [...document.querySelectorAll('{PANEL}')].some((panel) => Number(panel.dataset.ageMs) > limit)"""
)


class Cluster:
    """A redis-server that keeps its data across a restart, and the nodes a test starts on it, fast feeds."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self.redis = stack.enter_context(RedisServer(persist=True))
        self.nodes: dict[str, Server] = {}

    def start(self, name: str) -> Server:
        options = (*FAST_FEED_OPTIONS, "--broker", self.redis.url, "--leader-ttl", str(LEADER_TTL_S))
        node = self.nodes[name] = self._stack.enter_context(Server(*options, "--node-name", name))
        return node


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with ExitStack() as stack:
        yield Cluster(stack)


def feed_names(server: Server) -> set[str]:
    with urllib.request.urlopen(server.url + "api/feeds", timeout=5) as response:
        return {feed["name"] for feed in orjson.loads(response.read())}


def wait_for_feeds(server: Server, names: set[str]) -> None:
    """Wait until the server lists ``names`` (another node's per-host feed comes once the node has seen it)."""
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    while (listed := feed_names(server)) != names:
        assert time.monotonic() < deadline, f"the server lists {listed} after {DISCOVERY_TIMEOUT_S} s, not {names}"
        time.sleep(0.1)  # polling another process: nothing to await


def panel(page: Page, feed: str) -> Locator:
    return page.locator(f'{PANEL}[data-feed="{feed}"]')


def expect_stale(page: Page, feed: str, reason: str) -> None:
    """The feed's panel says stale, with the server's reason, while the page's connection stays live."""
    stale = panel(page, feed)
    expect(stale).to_have_attribute("data-state", "stale", timeout=STALE_TIMEOUT_MS)
    expect(stale).to_have_attribute("data-health", "stale")
    expect(stale.locator(".state__label")).to_have_text("Stale")
    expect(stale.get_by_test_id("health")).to_contain_text(f"Feed stale: {reason}")
    expect(page.locator(BADGE)).to_have_attribute("data-state", "live")


def expect_live(page: Page, feed: str) -> None:
    live = panel(page, feed)
    expect(live).to_have_attribute("data-state", "live", timeout=LIVE_TIMEOUT_MS)
    expect(live.locator(".state__label")).to_have_text("Connected")
    expect(live.get_by_test_id("health")).to_be_hidden()


def test_a_cluster_page_shows_each_host_and_feeds_nobody_produces_as_stale(
    cluster: Cluster, page: Page, problems: PageProblems
) -> None:
    redis, nodes = cluster.redis, cluster.nodes
    cluster.start("node-a")
    wait_for_feeds(nodes["node-a"], {"stocks", "system@node-a"})
    page.goto(nodes["node-a"].url)
    wait_until_live(page)

    # A machine joins while the page is open: its host's panel comes without a reload (feed_added).
    cluster.start("node-b")
    expect(panel(page, "system@node-b")).to_have_attribute("data-state", "live", timeout=DISCOVERY_TIMEOUT_S * 1000)
    wait_until_live(page)

    # One panel per host, each titled with the feed's name and its host beside it.
    assert set(page.locator(PANEL).evaluate_all("(panels) => panels.map((panel) => panel.dataset.feed)")) == FEEDS
    for node in NODES:
        system = panel(page, f"system@{node}")
        expect(system.locator(".panel__title")).to_have_text(f"system{node}")
        expect(system.get_by_test_id("host")).to_have_text(node)
    expect(panel(page, "stocks").get_by_test_id("host")).to_have_count(0)

    # Redis goes: no server can produce anything, and every panel says so; the page stays connected.
    redis.stop()
    for feed in FEEDS:
        expect_stale(page, feed, BROKER_LOST)
    expect(panel(page, "stocks").get_by_test_id("freshness")).to_contain_text("silent for")
    held = page.evaluate(POINTS_JS)
    # Past the page's own silence limit and its next look for silent feeds: still stale, and still connected. (Every
    # feed stopped as Redis went; a panel on screen draws its age.)
    page.wait_for_function(SILENT_JS, arg=SILENT_MS)
    for feed in FEEDS:
        expect(panel(page, feed)).to_have_attribute("data-state", "stale")
    expect(page.locator(BADGE)).to_have_attribute("data-state", "live")
    assert page.evaluate(POINTS_JS) == held  # nothing new to draw: the charts stand still

    # Redis comes back with its data: the same runs go on, with no gap drawn.
    redis.start()
    wait_until_live(page)
    for feed in FEEDS:
        expect_live(page, feed)
        expect(panel(page, feed)).to_have_attribute("data-gaps", "0")

    # node-b stops: its host's feed has no producer (after a TTL); node-a's and the shared stocks go on.
    assert nodes["node-b"].stop() == 0, nodes["node-b"].logs()
    expect_stale(page, "system@node-b", LEADERLESS)
    expect_live(page, "system@node-a")
    expect_live(page, "stocks")
    for feed in FEEDS:
        expect(panel(page, feed)).to_have_attribute("data-gaps", "0")
    problems.assert_none()
