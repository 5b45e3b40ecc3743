"""Fixtures for the browser tests: real ``server.py`` processes and a real headless Chromium.

Playwright's sync API is driven from these fixtures rather than through pytest-playwright, whose ``base_url``
fixture clashes with pytest-tornado's. Playwright is module-scoped so that its event loop is gone before the
Tornado tests in other modules start theirs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Playwright, ViewportSize, sync_playwright

from tools.harness import FAST_FEED_OPTIONS, Server, launch_chromium

VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
# Number formats follow the browser's locale; the tests expect en-US separators.
LOCALE = "en-US"
# How Chromium reports a WebSocket handshake that found no server listening, and the page's look at the feed list
# after it (to tell a refused token from a server that is down).
REFUSED_WEBSOCKET = re.compile(r"^WebSocket connection to 'wss?://[^']+/ws' failed: .*ERR_CONNECTION_REFUSED")
REFUSED_FETCH = re.compile(r"^Failed to load resource: net::ERR_CONNECTION_REFUSED$")


class PageProblems:
    """Uncaught page errors and console errors, except refused WebSocket connections while the server is down."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        self._server_down = False
        self._expected: list[re.Pattern[str]] = []
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if any(pattern.search(message.text) for pattern in self._expected):
            return
        if self._server_down and (
            REFUSED_WEBSOCKET.match(message.text)
            or (REFUSED_FETCH.match(message.text) and message.location.get("url", "").endswith("/api/feeds"))
        ):
            return
        self.problems.append(f"console error: {message.text} at {message.location}")

    def _on_page_error(self, error: Error) -> None:
        self.problems.append(f"uncaught page error: {error.message}\n{error.stack}")

    @contextmanager
    def server_down(self) -> Iterator[None]:
        """While the server is deliberately stopped, the page's failed reconnection attempts are expected."""
        self._server_down = True
        try:
            yield
        finally:
            self._server_down = False

    @contextmanager
    def expected(self, *patterns: str) -> Iterator[None]:
        """While a test provokes them (a refused token, say), console errors matching ``patterns`` are expected."""
        self._expected = [re.compile(pattern) for pattern in patterns]
        try:
            yield
        finally:
            self._expected = []

    def assert_none(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture
def server() -> Iterator[Server]:
    with Server(*FAST_FEED_OPTIONS) as server:
        yield server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # The TLS tests serve a certificate of their own making, which Chromium cannot know.
    context = browser.new_context(viewport=VIEWPORT, locale=LOCALE, ignore_https_errors=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def problems(page: Page) -> PageProblems:
    return PageProblems(page)
