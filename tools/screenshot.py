"""Write the screenshots of the live dashboard in docs/: ``python tools/screenshot.py docs``.

Starts ``server.py`` on a free port with fast feeds, opens the page in headless Chromium in the dark theme, the
light theme and at a phone's size, waits until every panel is live and holds some seconds of data, writes a PNG of
each (``screenshot.png``, ``screenshot-light.png``, ``screenshot-phone.png``), and stops the server.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness import FAST_FEED_OPTIONS, Server, launch_chromium, wait_until_live, wait_until_points
from playwright.sync_api import Browser, ViewportSize, sync_playwright

__all__ = ["SHOTS", "main", "take_screenshots"]

# Enough history for the lines to have shape, little enough to keep `make screenshot` quick.
DATA_SECONDS = 20.0
DATA_TIMEOUT_MS = 60_000
LOCALE = "en-US"


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


def take_screenshots(output: Path) -> list[Path]:
    """Run a server and a browser just long enough to write every shot into ``output``."""
    with Server(*FAST_FEED_OPTIONS) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for shot in SHOTS:
                shoot(browser, server.url, shot, output)
        finally:
            browser.close()
    return [output / shot.name for shot in SHOTS]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the folder to write the PNGs in, e.g. docs")
    args = parser.parse_args(argv)
    for path in take_screenshots(args.output):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
