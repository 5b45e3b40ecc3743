"""Run the live dashboard: ``python server.py --port 8888``, then open http://localhost:8888/.

``python server.py token --sub alice --roles viewer`` prints a token for a server that authenticates its clients.

This module only wires things together: it reads the flags, builds the feeds, the hub and the producer, serves the
web application, and stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from tornado.netutil import bind_sockets

from broker.node import BrokerError, RedisBroker
from feeds import Feed, OptionError
from feeds.clock import LoopClock
from feeds.feed import check_fields, host_feed_name, option_text
from feeds.hub import Hub
from feeds.loader import FeedSource, LoadError, check_unique, load_dir, load_entry_points, load_target
from feeds.parsers import parse_roles, positive_float
from feeds.producer import Producer
from feeds.stocks import StocksFeed
from feeds.system import SystemFeed
from feeds.watchdog import LoopWatchdog
from handlers.endpoints.app import HEALTH_PATH, UPLOT_DIR, make_app
from handlers.endpoints.socket import FeedSocket
from handlers.protocol.codes import CloseCode
from handlers.security.accesslog import LogBudget
from handlers.security.auth import SECRET_ENV, Authenticator
from handlers.settings import Settings, SettingsError, add_flags
from handlers.transport.addresses import listening_line, open_warning
from handlers.transport.connections import Connections
from handlers.transport.httpserver import DashboardHTTPServer, raise_fd_limit
from handlers.transport.processes import run_processes
from handlers.transport.tornado_internals import TornadoInternalsError, check_tornado, stream_of

__all__ = ["BUILTIN_FEEDS", "build_feeds", "discover_feeds", "main", "parse_args"]

log = logging.getLogger("dashboard")

BUILTIN_FEEDS: tuple[type[Feed], ...] = (SystemFeed, StocksFeed)
EXIT_USAGE = 2
# Collect young objects after this many allocations instead of Python's 700: ticks make short-lived objects by the
# thousand, and each collection stalls every client (measured in docs/performance.md).
GC_YOUNG_THRESHOLD = 20_000
# Connections the kernel may queue before the server accepts them. Tornado's 128 drops the SYNs of a reconnect
# storm (thousands of clients back at once after a restart or a network cut), and each dropped client waits for
# its kernel to retry: 1, 3, 7, 15 ... seconds. The kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 4096
# On SIGTERM: from the signal to the exit at most SHUTDOWN_BUDGET seconds (a shutdown may take 3), of which the
# Close frames of open connections have until CLOSE_WAIT to go out and be answered (looked at every CLOSE_POLL),
# and the feeds' teardown the rest, at least MIN_TEARDOWN.
SHUTDOWN_BUDGET = 2.2
CLOSE_WAIT = 1.5
CLOSE_POLL = 0.02
MIN_TEARDOWN = 0.2
WATCHDOG_MARGIN = 0.2
EXIT_STUCK = 1


T = TypeVar("T")


class StartupError(Exception):
    """A problem found before serving, reported as one line and exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, as every other start-up error is, not the usage and the
    error: ``server.py: error: unrecognized arguments: --bogus (see --help)``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = OneLineParser(
        prog="server.py",
        description="Serve the live dashboard: a page of charts fed over WebSocket by periodic data feeds.",
        epilog="example:\n"
        "  python server.py --port 8888 --option stocks.interval=0.1 --option stocks.symbols=AAPL,MSFT\n\n"
        "command:\n"
        "  python server.py token --sub alice --roles viewer\n"
        "      print a token for the clients of a server started with --auth-secret (its flags: token --help)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flags(parser)
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="FEED.KEY=VALUE",
        help="set a feed's option before it starts, e.g. stocks.interval=0.1; repeatable. Built-in options: "
        + "; ".join(_describe_options(feed) for feed in BUILTIN_FEEDS)
        + "; --list-feeds shows every feed's options",
    )
    parser.add_argument(
        "--feed",
        action="append",
        default=[],
        metavar="TARGET",
        help="load feed plugins: a module (every Feed subclass in it), module:Class, or a file "
        "path/to/feed.py[:Class]; repeatable",
    )
    parser.add_argument(
        "--feeds-dir", action="append", default=[], metavar="DIR", help="load the feeds of every *.py file in DIR"
    )
    parser.add_argument(
        "--no-entry-points",
        action="store_true",
        help="do not load the feeds that installed packages declare in the entry-point group 'dashboard.feeds'",
    )
    parser.add_argument(
        "--list-feeds",
        action="store_true",
        help="print every feed (built-in, --feed, --feeds-dir, and installed entry points in the group "
        "'dashboard.feeds'), where it comes from, its interval, fields and options, then exit",
    )
    return parser.parse_args(argv)


def _describe_options(feed: type[Feed]) -> str:
    return f"{feed.name}: " + ", ".join(sorted(feed.options()))


def discover_feeds(args: argparse.Namespace) -> list[FeedSource]:
    """Built-in feeds, installed entry points, --feeds-dir folders and --feed targets; names checked unique."""
    sources = [FeedSource(cls, "built-in") for cls in BUILTIN_FEEDS]
    try:
        if not args.no_entry_points:
            sources += load_entry_points()
        for folder in args.feeds_dir:
            sources += load_dir(folder)
        for target in args.feed:
            sources += load_target(target)
        return check_unique(sources)
    except LoadError as exc:
        raise StartupError(str(exc)) from None


def build_feeds(
    option_texts: Sequence[str], classes: Sequence[type[Feed]] = BUILTIN_FEEDS, node: str | None = None
) -> list[Feed]:
    """Instantiate each feed class with its ``FEED.KEY=VALUE`` options; raise `StartupError` naming a bad one.

    With ``node`` (a cluster's node name), a per-host feed (`Feed.per_host`) is this machine's own: ``NAME@NODE``.
    """
    by_feed: dict[str, dict[str, str]] = {cls.name: {} for cls in classes}
    for text in option_texts:
        target, separator, value = text.partition("=")
        feed_name, dot, key = target.partition(".")
        if not separator or not dot or not key:
            raise StartupError(f"--option {text!r}: expected FEED.KEY=VALUE, e.g. stocks.interval=0.5")
        if feed_name not in by_feed:
            raise StartupError(f"--option {text!r}: unknown feed {feed_name!r} (known: {', '.join(by_feed)})")
        by_feed[feed_name][key] = value
    feeds = []
    for cls in classes:
        own = cls
        if node is not None and cls.per_host:
            own = type(cls.__name__, (cls,), {"name": host_feed_name(cls.name, node), "__module__": cls.__module__})
        try:
            feed = own.from_text_options(by_feed[cls.name])
        except OptionError as exc:
            raise StartupError(str(exc)) from None
        except Exception as exc:
            raise StartupError(f"feed {cls.name}: {cls.__qualname__}() failed: {type(exc).__name__}: {exc}") from None
        try:
            check_fields(feed)
        except ValueError as exc:
            raise StartupError(str(exc)) from None
        feeds.append(feed)
    return feeds


def list_feeds(sources: Sequence[FeedSource], feeds: Sequence[Feed]) -> str:
    """What --list-feeds prints: each feed, where it comes from, its interval, fields, and options with their values
    and help."""
    blocks = []
    for source, feed in zip(sources, feeds, strict=True):
        fields = ", ".join(f"{field.name} ({field.unit})" if field.unit else field.name for field in feed.fields)
        settings = {key: f"{key}={option_text(getattr(feed, key))}" for key in type(feed).options()}
        width = max(map(len, settings.values()))
        options = [
            f"    {settings[key]:<{width}}  {option.help}".rstrip()
            for key, option in sorted(type(feed).options().items())
        ]
        lines = [
            f"{feed.name}: every {feed.interval:g} s, from {source.origin}",
            *([f"  {feed.description}"] if feed.description else []),
            f"  fields: {fields or 'taken from the first sample'}",
            "  options:",
            *options,
        ]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of --certfile and --keyfile, or None to serve plain http and ws."""
    if settings.certfile is None or settings.keyfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.certfile, settings.keyfile)
    except (ssl.SSLError, OSError) as exc:
        raise StartupError(
            f"cannot use --certfile {settings.certfile} with --keyfile {settings.keyfile}: {exc}"
        ) from None
    return context


def listen(settings: Settings, port: int | None = None) -> list[socket.socket]:
    """The listening sockets of --host and --port (or ``port``); shared with the other processes of --processes
    (``SO_REUSEPORT``) when there are several."""
    port = settings.port if port is None else port
    try:
        return bind_sockets(port, settings.host, backlog=LISTEN_BACKLOG, reuse_port=settings.processes > 1)
    except OSError as exc:
        raise StartupError(f"cannot listen on {settings.host}:{port}: {exc.strerror}") from None


async def serve(settings: Settings, feeds: list[Feed], sockets: list[socket.socket]) -> None:
    """Serve on ``sockets`` until SIGINT or SIGTERM."""
    clock = LoopClock()  # one clock for the producer's beats and the hub's waits for a first tick
    hub = Hub(
        feeds,
        settings.history_ticks,
        settings.history_seconds,
        settings.history_bytes,
        history_total_bytes=settings.history_total_bytes,
        clock=clock,
    )
    broker_url = settings.broker_url
    broker = None
    if broker_url is None:
        producer = Producer(feeds, hub, clock=clock)
    else:
        broker = RedisBroker(
            broker_url,
            hub,
            feeds,
            node=settings.node_name,
            leader_ttl=settings.leader_ttl,
            history_ticks=settings.history_ticks,
            history_seconds=settings.history_seconds,
            clock=clock,
        )
        try:
            await broker.start()
        except BrokerError as exc:
            raise StartupError(str(exc)) from None
        producer = broker.producer  # it samples the feeds this process leads, as leaderships come and go
    connections: Connections[FeedSocket] = Connections()
    app = make_app(hub, settings, connections=connections, problems=None if broker is None else broker.problems)
    server = DashboardHTTPServer(
        app,
        ssl_options=tls_context(settings),
        settings=settings,
        connections=connections,
        socket_budget=raise_fd_limit(),
        health_paths=(HEALTH_PATH,),
        **settings.http_server_options(),
    )
    server.add_sockets(sockets)
    producer.start()
    watchdog = LoopWatchdog(producer.loop_blocked)  # names a feed whose async sample blocks the loop
    watchdog.start()
    # What start-up made (modules, feeds, the app) lives as long as the process: take it out of the collector's way.
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _on_signal, stop, signum)

    host, port = sockets[0].getsockname()[:2]
    if not UPLOT_DIR.is_dir():
        log.warning("uPlot not found in %s: the page cannot draw charts; run `npm ci` (or `make run`)", UPLOT_DIR)
    log.info("feeds: %s", ", ".join(f"{feed.name} every {feed.interval:g} s" for feed in feeds))
    if broker is not None:
        log.info("node %s of the cluster on %s", settings.node_name, broker.url.redacted)
    print(listening_line(settings, host, port), flush=True)

    await stop.wait()
    started = time.monotonic()
    watchdog.stop()
    log.info("shutting down: closing %d connections (a second signal exits at once)", len(connections))
    server.stop()  # no new connections
    # In a cluster the leaderships go first, so that other nodes take the feeds over while connections close.
    stopping = asyncio.ensure_future(producer.stop() if broker is None else broker.stop())
    await close_all(connections, until=started + CLOSE_WAIT)
    left = started + SHUTDOWN_BUDGET - time.monotonic()
    try:
        await asyncio.wait_for(stopping, max(left, MIN_TEARDOWN))
    except asyncio.TimeoutError:
        log.warning(
            "the feeds' teardown did not finish within the shutdown's %g s: exiting without it", SHUTDOWN_BUDGET
        )
    log.info("shut down in %.2f s", time.monotonic() - started)
    # All is done: exit now, rather than let asyncio cancel every connection's tasks and the interpreter take apart
    # the objects of thousands of connections, which takes seconds (bench/reconnect.py measures the whole exit).
    logging.shutdown()
    os._exit(0)


def _on_signal(stop: asyncio.Event, signum: int) -> None:
    if stop.is_set():
        log.warning("second signal: exiting at once")
        logging.shutdown()
        os._exit(128 + signum)
    stop.set()
    # Whatever the shutdown meets (a teardown that ignores cancellation, or blocks the event loop), the process
    # is gone within the 3 s a shutdown may take: this timer's thread does not need the event loop.
    watchdog = threading.Timer(SHUTDOWN_BUDGET + WATCHDOG_MARGIN, _exit_stuck)
    watchdog.daemon = True
    watchdog.start()


def _exit_stuck() -> None:
    log.error("the shutdown did not finish within %g s: exiting anyway", SHUTDOWN_BUDGET + WATCHDOG_MARGIN)
    logging.shutdown()
    os._exit(EXIT_STUCK)


async def close_all(connections: Connections[FeedSocket], until: float) -> None:
    """Close every WebSocket with 1001 (going away), then give their Close frames until ``until`` (monotonic
    seconds) to go out and be answered, so that clients see a clean close rather than a dropped connection (1006)."""
    connections.closing = True  # a kept-alive HTTP connection may still ask to upgrade: 503
    streams = [stream for connection in connections if (stream := stream_of(connection)) is not None]
    for connection in list(connections):
        connection.close(CloseCode.GOING_AWAY, "server shutting down")
    # Tornado lets go of a handler's protocol at once; the streams tell when each socket is really closed.
    while time.monotonic() < until and any(not stream.closed() for stream in streams):
        await asyncio.sleep(CLOSE_POLL)
    unanswered = sum(not stream.closed() for stream in streams)
    if unanswered:
        log.info("%d of %d connections did not answer their Close frame in time", unanswered, len(streams))


def token_command(argv: Sequence[str]) -> int:
    """``server.py token``: print a token for the server's clients, for operators and tests."""
    parser = OneLineParser(
        prog="server.py token",
        description="Print a token (a JWT signed HS256) that a server started with the same --auth-secret accepts.",
        epilog="Example: python server.py token --sub alice --roles viewer,trader --ttl 3600",
    )
    parser.add_argument("--secret", help=f"the server's --auth-secret; default: the environment variable {SECRET_ENV}")
    parser.add_argument("--sub", required=True, help="who the token is for (its 'sub' claim)")
    parser.add_argument("--roles", default="", help="comma-separated roles (its 'roles' claim), e.g. viewer,trader")
    parser.add_argument(
        "--ttl", default="3600", metavar="SECONDS", help="seconds until it expires (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    secret = args.secret or os.environ.get(SECRET_ENV)
    try:
        if not secret:
            raise ValueError(f"no secret: pass --secret or set {SECRET_ENV}")
        try:
            authenticator = Authenticator(secret)
        except ValueError as exc:
            raise ValueError(f"bad value for {'--secret' if args.secret else SECRET_ENV}: {exc}") from None
        roles = _flag_value(parse_roles, "--roles", args.roles)
        ttl = _flag_value(positive_float, "--ttl", args.ttl)
    except ValueError as exc:
        print(f"server.py token: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(authenticator.mint(args.sub, roles, ttl))
    return 0


def _flag_value(parse: Callable[[str], T], flag: str, text: str) -> T:
    """``parse(text)``, or `ValueError` naming the flag and its value: ``bad value '0' for --ttl: ...``."""
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"bad value {text!r} for {flag}: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["token"]:
        return token_command(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(LogBudget())
    try:
        check_tornado()
        settings = Settings.from_flags(args)
        sources = discover_feeds(args)
        feeds = build_feeds(
            args.option, [source.cls for source in sources], settings.node_name if settings.broker else None
        )
        if args.list_feeds:
            print(list_feeds(sources, feeds))
            return 0
        if (warning := open_warning(settings)) is not None:
            log.warning(warning)
        sockets = listen(settings)
        if settings.processes > 1:
            port = sockets[0].getsockname()[1]  # --port 0 resolved: every process listens on this one
            return run_processes(
                settings.processes,
                sockets,
                bind=lambda: listen(settings, port),
                serve=lambda own: serve_process(settings, feeds, own),
            )
        asyncio.run(serve(settings, feeds, sockets))
    except (StartupError, SettingsError, TornadoInternalsError) as exc:
        print(f"server.py: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def serve_process(settings: Settings, feeds: list[Feed], sockets: list[socket.socket]) -> int:
    """One of the processes of --processes: serve on ``sockets``; its exit status (2 after a start-up error)."""
    try:
        asyncio.run(serve(settings, feeds, sockets))
    except (StartupError, SettingsError, TornadoInternalsError) as exc:
        print(f"server.py: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
