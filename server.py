"""Run the live dashboard: ``python server.py --port 8888``, then open http://localhost:8888/.

This module only wires things together: it reads the flags, builds the feeds, the hub and the producer, serves the
web application, and stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from feeds import Feed, OptionError
from feeds.hub import Hub
from feeds.producer import Producer
from feeds.stocks import StocksFeed
from feeds.system import SystemFeed
from handlers import UPLOT_DIR, make_app

__all__ = ["BUILTIN_FEEDS", "build_feeds", "main", "parse_args"]

log = logging.getLogger("dashboard")

BUILTIN_FEEDS: tuple[type[Feed], ...] = (SystemFeed, StocksFeed)
EXIT_USAGE = 2


class StartupError(Exception):
    """A problem found before serving, reported as one line and exit status 2."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="server.py",
        description="Serve the live dashboard: a page of charts fed over WebSocket by periodic data feeds.",
        epilog="Example: python server.py --port 8888 --option stocks.interval=0.1 --option stocks.symbols=AAPL,MSFT",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s; 0.0.0.0 for every interface)"
    )
    parser.add_argument(
        "--port", type=int, default=8888, help="port to listen on, 0 for any free port (default: %(default)s)"
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="FEED.KEY=VALUE",
        help="set a feed's option before it starts, e.g. stocks.interval=0.1; repeatable. "
        "Options: " + "; ".join(_describe_options(feed) for feed in BUILTIN_FEEDS),
    )
    return parser.parse_args(argv)


def _describe_options(feed: type[Feed]) -> str:
    return f"{feed.name}: " + ", ".join(sorted(feed.options()))


def build_feeds(option_texts: Sequence[str], classes: Sequence[type[Feed]] = BUILTIN_FEEDS) -> list[Feed]:
    """Instantiate each feed class with its ``FEED.KEY=VALUE`` options; raise `StartupError` naming a bad one."""
    by_feed: dict[str, dict[str, str]] = {cls.name: {} for cls in classes}
    for text in option_texts:
        target, separator, value = text.partition("=")
        feed_name, dot, key = target.partition(".")
        if not separator or not dot or not key:
            raise StartupError(f"--option {text!r}: expected FEED.KEY=VALUE, e.g. stocks.interval=0.5")
        if feed_name not in by_feed:
            raise StartupError(f"--option {text!r}: unknown feed {feed_name!r} (known: {', '.join(by_feed)})")
        by_feed[feed_name][key] = value
    try:
        return [cls.from_text_options(by_feed[cls.name]) for cls in classes]
    except OptionError as exc:
        raise StartupError(str(exc)) from None


async def serve(args: argparse.Namespace, feeds: list[Feed]) -> None:
    """Serve until SIGINT or SIGTERM."""
    hub = Hub(feeds)
    producer = Producer(feeds, hub.publish)
    try:
        sockets = bind_sockets(args.port, args.host)
    except OSError as exc:
        raise StartupError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    server = HTTPServer(make_app(hub))
    server.add_sockets(sockets)
    producer.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    host, port = sockets[0].getsockname()[:2]
    if not UPLOT_DIR.is_dir():
        log.warning("uPlot not found in %s: the page cannot draw charts; run `npm ci` (or `make run`)", UPLOT_DIR)
    log.info("feeds: %s", ", ".join(f"{feed.name} every {feed.interval:g} s" for feed in feeds))
    print(f"listening on http://{host if ':' not in host else f'[{host}]'}:{port}/", flush=True)

    await stop.wait()
    log.info("shutting down")
    server.stop()
    await producer.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        feeds = build_feeds(args.option)
        asyncio.run(serve(args, feeds))
    except StartupError as exc:
        print(f"server.py: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
