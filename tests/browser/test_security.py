"""The page on a server that authenticates its clients, and over https: the token's path, refusals, expiry, wss."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import trustme
from playwright.sync_api import Page, WebSocket, expect

from handlers.security.auth import Authenticator
from tools.harness import FAST_FEED_OPTIONS, Server, wait_until_live

from .conftest import PageProblems

SECRET = "the browser tests' secret, 32 bytes+"
AUTH = Authenticator(SECRET)
BADGE = '[data-testid="connection"]'
PANEL = '[data-testid="panel"]'
NOTICE = "#notice"
SIGNED_OUT_TIMEOUT_MS = 10_000
# Eight messages and the heartbeat's pings at one every other second, the page waiting up to 15 s (a 10 s backoff and
# half as much again of jitter) between attempts.
SLOWED_DOWN_TIMEOUT_MS = 120_000
# What Chromium prints for the handshake and the feed list a refused token gets.
REFUSED = (r"WebSocket connection to '[^']+' failed", r"status of 401")


@pytest.fixture
def secured() -> Iterator[Server]:
    with Server(*FAST_FEED_OPTIONS, "--auth-secret", SECRET) as server:
        yield server


def test_the_page_takes_its_token_from_the_url_keeps_it_for_reloads_and_hides_it(
    secured: Server, page: Page, problems: PageProblems
) -> None:
    token = AUTH.mint("alice", [], 3600)
    response = page.goto(f"{secured.url}?token={token}")
    assert response is not None
    assert response.headers["referrer-policy"] == "no-referrer"
    wait_until_live(page)
    assert "token" not in page.url  # gone from the address bar (and from history)
    assert page.evaluate("() => sessionStorage.getItem('dashboard.token')") == token
    page.reload()
    wait_until_live(page)
    assert "token" not in page.url
    problems.assert_none()
    assert token not in secured.logs()


def test_without_a_token_the_page_says_so_and_stops_knocking(
    secured: Server, page: Page, problems: PageProblems
) -> None:
    with problems.expected(*REFUSED):
        page.goto(secured.url)
        expect(page.locator(BADGE)).to_have_attribute("data-state", "signed-out", timeout=SIGNED_OUT_TIMEOUT_MS)
        expect(page.locator(NOTICE)).to_contain_text("needs an access token, and this page was opened without one")
        expect(page.locator(BADGE)).to_contain_text("Not signed in")
    problems.assert_none()


def test_a_token_that_expired_before_the_page_opened_says_when(
    secured: Server, page: Page, problems: PageProblems
) -> None:
    """The user whose link expired learns that opening it again will not help, and since when."""
    token = AUTH.mint("alice", [], -90)
    expired_at = orjson.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]
    with problems.expected(*REFUSED):
        page.goto(f"{secured.url}?token={token}")
        expect(page.locator(BADGE)).to_have_attribute("data-state", "signed-out", timeout=SIGNED_OUT_TIMEOUT_MS)
        shown = page.evaluate("(exp) => new Date(exp * 1000).toLocaleString()", expired_at)
        expect(page.locator(NOTICE)).to_contain_text(f"Your access token expired at {shown}: opening the same link")
    problems.assert_none()


def test_a_token_of_another_secret_is_not_accepted_and_says_so(
    secured: Server, page: Page, problems: PageProblems
) -> None:
    token = Authenticator("another server's secret, 32 bytes+").mint("alice", [], 3600)
    with problems.expected(*REFUSED):
        page.goto(f"{secured.url}?token={token}")
        expect(page.locator(BADGE)).to_have_attribute("data-state", "signed-out", timeout=SIGNED_OUT_TIMEOUT_MS)
        expect(page.locator(NOTICE)).to_contain_text("The server does not accept this page's access token")
    problems.assert_none()


def test_an_expiring_token_signs_the_page_out(secured: Server, page: Page, problems: PageProblems) -> None:
    page.goto(f"{secured.url}?token={AUTH.mint('alice', [], 2)}")
    wait_until_live(page)
    with problems.expected(*REFUSED):
        expect(page.locator(BADGE)).to_have_attribute("data-state", "signed-out", timeout=SIGNED_OUT_TIMEOUT_MS)
        expect(page.locator(NOTICE)).to_contain_text("Your access token expired at ")
    problems.assert_none()


def test_the_page_over_https_talks_wss(tmp_path: Path, page: Page, problems: PageProblems) -> None:
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certificate.cert_chain_pems[0].write_to_path(str(certfile))
    certificate.private_key_pem.write_to_path(str(keyfile))
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    with Server(*FAST_FEED_OPTIONS, "--certfile", str(certfile), "--keyfile", str(keyfile)) as server:
        assert server.url.startswith("https://")
        page.goto(server.url)
        wait_until_live(page)
    assert sockets
    assert all(url.startswith("wss://") for url in sockets)
    problems.assert_none()


def test_a_page_the_server_slows_down_asks_again_and_loses_nothing(page: Page, problems: PageProblems) -> None:
    # Four feeds and a budget of three messages (one more a second): the page's fourth subscribe is not read.
    plugins = ("--feed", "bench/plugins/stocks50.py", "--feed", "examples/feeds/processes.py")
    with Server(*FAST_FEED_OPTIONS, *plugins, "--max-rate", "1", "--max-burst", "3") as server:
        page.goto(server.url)
        # It asks again once the budget has refilled, and every panel goes live, none showing an error.
        wait_until_live(page)
        expect(page.locator('[data-testid="panel"]')).to_have_count(4)
        expect(page.locator(".panel__error:not([hidden])")).to_have_count(0)
        expect(page.locator('[data-testid="panel"][data-first-seq="1"][data-gaps="0"]')).to_have_count(4)
    problems.assert_none()


def test_a_window_change_the_server_slows_down_sends_its_unsubscribes_again(page: Page, problems: PageProblems) -> None:
    # Four feeds, seven messages at once and one more every other second: the page's four subscribes and its ping
    # leave two. A window change is an unsubscribe and a subscribe per panel, eight messages, so unsubscribes go
    # unread as well as subscribes (never seven in a row, which would close the connection).
    plugins = ("--feed", "bench/plugins/stocks50.py", "--feed", "examples/feeds/processes.py")
    sent: list[dict[str, object]] = []
    sockets: list[str] = []

    def watch(socket: WebSocket) -> None:
        sockets.append(socket.url)
        socket.on("framesent", lambda payload: sent.append(orjson.loads(payload)))

    page.on("websocket", watch)
    with Server(*FAST_FEED_OPTIONS, *plugins, "--max-rate", "0.5", "--max-burst", "7") as server:
        page.goto(server.url)
        expect(page.locator(PANEL)).to_have_count(4)
        page.locator("#windows button[data-window='5m']").click()
        # Every panel ends on the new window, live, with every tick from the first and no error shown.
        page.wait_for_function(
            f"""() => [...document.querySelectorAll('{PANEL}')].every(
                (panel) => panel.dataset.window === "300" && panel.dataset.state === "live"
                    && panel.dataset.firstSeq === "1" && panel.dataset.gaps === "0")""",
            timeout=SLOWED_DOWN_TIMEOUT_MS,
        )
        expect(page.locator(".panel__error:not([hidden])")).to_have_count(0)
    unsubscribes = Counter(message["feed"] for message in sent if message.get("op") == "unsubscribe")
    assert max(unsubscribes.values()) >= 2, unsubscribes  # a refused unsubscribe was sent again
    assert len(sockets) == 1  # on the same connection
    problems.assert_none()
