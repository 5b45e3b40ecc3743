"""Write the screenshots of the live dashboard in docs/: ``python tools/screenshot.py docs``.

Starts ``server.py`` on a free port with fast feeds, opens the page in headless Chromium in the dark theme, the
light theme and at a phone's size, waits until every panel is live and holds some seconds of data, writes a PNG of
each (``screenshot.png``, ``screenshot-light.png``, ``screenshot-phone.png``), and stops the server. Then the same
for a cluster (``cluster.png``): a private ``redis-server`` and two nodes on it, ``node-a`` and ``node-b``, whose
page shows a ``system`` panel per host.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from collections.abc import Collection, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness import FAST_FEED_OPTIONS, Server, launch_chromium, wait_until_live, wait_until_points
from playwright.sync_api import Browser, ViewportSize, sync_playwright
from redisserver import RedisServer

__all__ = ["CLUSTER_SHOT", "SHOTS", "main", "take_screenshots"]

# Enough history for the lines to have shape, little enough to keep `make screenshot` quick.
DATA_SECONDS = 20.0
DATA_TIMEOUT_MS = 60_000
LOCALE = "en-US"
CLUSTER_NODES = ("node-a", "node-b")
# A node lists another's per-host feed once it has seen it, within a round of the lease.
DISCOVERY_TIMEOUT_S = 15.0
DISCOVERY_POLL_S = 0.1


@dataclass(frozen=True)
class Shot:
    name: str
    viewport: ViewportSize
    color_scheme: Literal["dark", "light"]
    full_page: bool = True
    mobile: bool = False


SHOTS = (
    Shot("screenshot.png", {"width": 1400, "height": 1000}, "dark"),
    Shot("screenshot-light.png", {"width": 1400, "height": 1000}, "light"),
    Shot("screenshot-phone.png", {"width": 390, "height": 844}, "dark", full_page=False, mobile=True),
)
# Tall enough for every panel to be on screen: a panel out of sight draws nothing, and would show empty charts.
CLUSTER_SHOT = Shot("cluster.png", {"width": 1400, "height": 2300}, "dark")


def shoot(browser: Browser, url: str, shot: Shot, output: Path) -> None:
    context = browser.new_context(
        viewport=shot.viewport, color_scheme=shot.color_scheme, locale=LOCALE, is_mobile=shot.mobile
    )
    try:
        page = context.new_page()
        page.goto(url)
        wait_until_live(page)
        wait_until_points(page, DATA_SECONDS, DATA_TIMEOUT_MS)
        page.screenshot(path=output / shot.name, full_page=shot.full_page)
    finally:
        context.close()


def wait_for_hosts(server: Server, nodes: Sequence[str]) -> None:
    """Wait until ``server`` lists the ``system`` feed of every node (each node learns of the others as it runs)."""
    wanted = {f"system@{node}" for node in nodes}
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    while True:
        with urllib.request.urlopen(server.url + "api/feeds", timeout=5) as response:
            listed = {feed["name"] for feed in json.loads(response.read())}
        if wanted <= listed:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server lists {sorted(listed)} after {DISCOVERY_TIMEOUT_S} s, not {sorted(wanted)}")
        time.sleep(DISCOVERY_POLL_S)  # another process's state: nothing to await


def take_screenshots(output: Path, names: Collection[str] | None = None) -> list[Path]:
    """Run a server, then a cluster, and a browser just long enough to write every shot (or those ``names``) into
    ``output``."""
    single = [shot for shot in SHOTS if names is None or shot.name in names]
    cluster = names is None or CLUSTER_SHOT.name in names
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            if single:
                with Server(*FAST_FEED_OPTIONS) as server:
                    for shot in single:
                        shoot(browser, server.url, shot, output)
            if cluster:
                with ExitStack() as stack:
                    redis = stack.enter_context(RedisServer())
                    nodes = [
                        stack.enter_context(Server(*FAST_FEED_OPTIONS, "--broker", redis.url, "--node-name", node))
                        for node in CLUSTER_NODES
                    ]
                    wait_for_hosts(nodes[0], CLUSTER_NODES)
                    shoot(browser, nodes[0].url, CLUSTER_SHOT, output)
        finally:
            browser.close()
    return [output / shot.name for shot in (*single, *([CLUSTER_SHOT] if cluster else []))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the folder to write the PNGs in, e.g. docs")
    parser.add_argument(
        "--only",
        action="append",
        choices=[shot.name for shot in (*SHOTS, CLUSTER_SHOT)],
        help="write this shot only (repeatable; default: every shot)",
    )
    args = parser.parse_args(argv)
    for path in take_screenshots(args.output, args.only):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
