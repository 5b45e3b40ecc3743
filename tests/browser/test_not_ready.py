"""The page and feeds that have not produced a first sample: one look at a time, at waits that grow."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, Request, expect

from tools.harness import FAST_FEED_OPTIONS, Server

from .conftest import PageProblems

# A sample whose value is not a number is malformed: the feed never has a first sample.
NEVER_PLUGIN = """
from feeds import Feed


class Thermo(Feed):
    name = "thermo"
    interval = 0.2
    timeout = 0.2

    def sample(self):
        return {"temp": "21.5"}
"""
# A first sample that takes longer than the test: the feed is starting, not failing.
SLOW_PLUGIN = """
import asyncio

from feeds import Feed


class Slow(Feed):
    name = "slow"
    interval = 1.0
    timeout = 600.0

    async def sample(self):
        await asyncio.sleep(600)
        return {"level": 1.0}
"""
# And a feed whose every sample fails (nothing listens on port 9): the two feeds, with short waits.
NOT_READY_OPTIONS = (
    "--feed",
    "examples/feeds/http_json.py",
    "--option",
    "http_json.url=http://127.0.0.1:9/",
    "--option",
    "http_json.interval=0.2",
    "--option",
    "http_json.timeout=0.2",
)
REFUSALS_PER_FEED = 3
PANEL = '[data-testid="panel"]'
WAIT_TIMEOUT_MS = 30_000


def test_feeds_not_ready_get_one_feed_list_at_a_time(tmp_path: Path, page: Page, problems: PageProblems) -> None:
    """Each `feed_not_ready` asks for one look at the feed list at most, and looks never overlap (before, every
    answer fetched a list of its own, two feeds' answers two lists at once, and the retries multiplied)."""
    plugin = tmp_path / "thermo.py"
    plugin.write_text(NEVER_PLUGIN)
    in_flight: list[int] = [0]
    most_in_flight: list[int] = [0]
    requests: list[str] = []
    refusals: list[object] = []

    def started(request: Request) -> None:
        if request.url.endswith("/api/feeds"):
            requests.append(request.url)
            in_flight[0] += 1
            most_in_flight[0] = max(most_in_flight[0], in_flight[0])

    def ended(request: Request) -> None:
        if request.url.endswith("/api/feeds"):
            in_flight[0] -= 1

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    with Server(*FAST_FEED_OPTIONS, *NOT_READY_OPTIONS, "--feed", str(plugin)) as server:
        with page.expect_websocket() as opened:
            page.goto(server.url)
        ws = opened.value
        for _ in range(2 * REFUSALS_PER_FEED):
            refusals.append(
                ws.wait_for_event(
                    "framereceived", lambda frame: '"feed_not_ready"' in str(frame), timeout=WAIT_TIMEOUT_MS
                )
            )
    assert most_in_flight[0] == 1
    assert len(requests) <= 1 + len(refusals), (len(requests), len(refusals))
    problems.assert_none()


def test_a_feed_without_a_first_sample_says_why_not_connecting(
    tmp_path: Path, page: Page, problems: PageProblems
) -> None:
    """While the connection is up, a feed with no first sample reads "Waiting for first sample", or "Feed failing"
    when its samples fail or are malformed (before, all read "Connecting…" for as long as it lasted)."""
    (tmp_path / "thermo.py").write_text(NEVER_PLUGIN)
    (tmp_path / "slow.py").write_text(SLOW_PLUGIN)
    plugins = ("--feed", str(tmp_path / "thermo.py"), "--feed", str(tmp_path / "slow.py"))
    with Server(*FAST_FEED_OPTIONS, *NOT_READY_OPTIONS, *plugins) as server:
        page.goto(server.url)
        expect(page.locator(f'{PANEL}[data-feed="slow"] .state')).to_have_text("Waiting for first sample")
        for feed in ("thermo", "http_json"):
            expect(page.locator(f'{PANEL}[data-feed="{feed}"] .state')).to_have_text(
                "Feed failing", timeout=WAIT_TIMEOUT_MS
            )
        expect(page.locator(f'{PANEL}[data-feed="stocks"]')).to_have_attribute("data-state", "live")
    problems.assert_none()
