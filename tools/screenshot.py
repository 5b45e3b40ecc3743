"""Write a screenshot of the live dashboard: ``python tools/screenshot.py docs/screenshot.png``.

Starts ``server.py`` on a free port with fast feeds, opens the page in headless Chromium, waits until every panel is
live and holds a few seconds of data, writes a full-page PNG, and stops the server.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import FAST_FEED_OPTIONS, Server, launch_chromium, wait_until_live, wait_until_points
from playwright.sync_api import ViewportSize, sync_playwright

__all__ = ["main", "take_screenshot"]

VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}
# Enough history for the lines to have shape, little enough to keep `make screenshot` quick.
DATA_SECONDS = 5.0
DATA_TIMEOUT_MS = 30_000


def take_screenshot(output: Path) -> None:
    """Run a server and a browser just long enough to write ``output``."""
    with Server(*FAST_FEED_OPTIONS) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(server.url)
            wait_until_live(page)
            wait_until_points(page, DATA_SECONDS, DATA_TIMEOUT_MS)
            page.screenshot(path=output, full_page=True)
        finally:
            browser.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="where to write the PNG, e.g. docs/screenshot.png")
    args = parser.parse_args(argv)
    take_screenshot(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
