"""The server's settings: every address, limit and interval it has, in one object, each declared once.

A setting is a field of `Settings` with its flag, its unit (in the name or the metavar), its default and its
parser: the same parsers the feed options use (`feeds.parsers`). `add_flags` puts every setting on the command
line, and `Settings.from_flags` reads them back, so ``--help`` lists them all with their defaults and a bad value
is reported the way a bad feed option is: ``bad value '0' for --max-backlog: expected a whole number greater than 0``.
Code that builds `Settings` directly (tests, the benchmark) gets the same checks.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broker.url import BROKER_ENV, BrokerURL, parse_broker_url
from feeds.feed import MAX_NODE_NAME, NODE_NAME_PATTERN
from feeds.history import HISTORY_BYTES, HISTORY_SECONDS, HISTORY_TICKS
from feeds.parsers import (
    interval_seconds,
    non_negative_float,
    non_negative_int,
    parse_bool,
    port_number,
    positive_float,
    positive_int,
)
from handlers.security.auth import SECRET_ENV, check_secret
from handlers.security.guard import normalize_origin

__all__ = [
    "REPLAY_BUDGET",
    "Settings",
    "SettingsError",
    "add_flags",
    "default_node_name",
    "flag_of",
]

# A page's hour of both built-in feeds is 2.7 MiB of binary frames (6.5 MiB of JSON); of a 50-symbol feed at 20 Hz,
# as much as its 36,000 held ticks, 29 MiB: a page loading its longest window fits in the budget, twice.
REPLAY_BUDGET = 64 * 1024 * 1024
# The default --node-name when nothing of the host name is left once made valid.
NODE_NAME_FALLBACK = "node"
# How long a feed's leadership lasts in Redis without renewal (renewed at about a third of it).
LEADER_TTL = 3.0


class SettingsError(ValueError):
    """A setting's value that its parser refuses; the message names the flag and says what was expected."""


def _setting(
    default: Any,
    flag: str,
    metavar: str,
    parse: Callable[[str], Any],
    help: str,
    *,
    repeatable: bool = False,
    env: str | None = None,
    secret: bool = False,
    switch: bool = False,
) -> Any:
    """A field of `Settings`. A repeatable flag gathers its values in a tuple, each read with ``parse``; a default
    of None means "not set"; ``env`` names an environment variable read when the flag is not given; a ``secret``
    is never shown (not in its error, not in the object's repr)."""
    metadata = {
        "flag": flag,
        "metavar": metavar,
        "parse": parse,
        "help": help,
        "repeatable": repeatable,
        "env": env,
        "secret": secret,
        "switch": switch,
    }
    return dataclasses.field(default=default, metadata=metadata, repr=not secret)


def _readable_file(text: str) -> str:
    if not os.path.isfile(text) or not os.access(text, os.R_OK):
        raise ValueError("no such readable file")
    return text


def _host(text: str) -> str:
    if not text.strip():
        raise ValueError("expected an address, e.g. 127.0.0.1, or 0.0.0.0 for every interface")
    return text.strip()


def _host_name(text: str) -> str:
    name = text.strip().lower()
    labels = name.removeprefix("*.").split(".")
    # *.example.com, not *.com: a wildcard for a whole top-level domain would let rebound names in again.
    wildcard_ok = not name.startswith("*.") or len(labels) >= WILDCARD_LABELS
    if not name or "*" in name.removeprefix("*.") or any(not label for label in labels) or not wildcard_ok:
        raise ValueError("expected a host name such as dashboard.example.com, or *.example.com")
    if any(char in name for char in "/:@ [],"):
        raise ValueError("expected a host name such as dashboard.example.com, or *.example.com")
    return name


WILDCARD_LABELS = 2


def _origin(text: str) -> str:
    return normalize_origin(text)


def _broker(text: str) -> str:
    parse_broker_url(text)  # its errors quote nothing of the URL, which may hold a password
    return text.strip()


def _node_name(text: str) -> str:
    name = text.strip().lower()
    if not NODE_NAME_PATTERN.match(name):
        raise ValueError(
            f"expected a name of at most {MAX_NODE_NAME} letters, digits, dots and dashes, starting with a letter or "
            "a digit, e.g. web-1"
        )
    return name


def default_node_name(host_name: str | None = None) -> str:
    """This machine's name in a cluster: its host name, lowercased, with any character a node name cannot hold
    replaced by '-' and cut to `MAX_NODE_NAME` (a host named ``Build_Box`` is ``build-box``), so that an odd host
    name never stops a server from starting."""
    name = re.sub(r"[^a-z0-9.-]", "-", (socket.gethostname() if host_name is None else host_name).lower())
    name = name.lstrip(".-")[:MAX_NODE_NAME]
    return name if NODE_NAME_PATTERN.match(name) else NODE_NAME_FALLBACK


@dataclass(frozen=True)
class Settings:
    """Every setting of the server; each field's metadata gives its flag, metavar, parser and help."""

    host: str = _setting("127.0.0.1", "--host", "ADDRESS", _host, "address to listen on; 0.0.0.0 for every interface")
    port: int = _setting(8888, "--port", "PORT", port_number, "port to listen on, 0 for any free port")
    allowed_hosts: tuple[str, ...] = _setting(
        (),
        "--allowed-host",
        "NAME",
        _host_name,
        "a name this server answers to besides IP addresses, localhost and --host (DNS rebinding defence); "
        "*.example.com for every subdomain",
        repeatable=True,
    )
    allowed_origins: tuple[str, ...] = _setting(
        (),
        "--allowed-origin",
        "URL",
        _origin,
        "an origin (scheme://host[:port]) whose pages may open WebSockets here besides the server's own",
        repeatable=True,
    )
    auth_secret: str | None = _setting(
        None,
        "--auth-secret",
        "SECRET",
        check_secret,
        "require a token signed with this secret (HS256, at least 32 bytes) from every client of /ws and /api/feeds; "
        "without it every feed is open",
        env=SECRET_ENV,
        secret=True,
    )
    certfile: str | None = _setting(
        None, "--certfile", "PATH", _readable_file, "serve https and wss with this certificate chain (PEM)"
    )
    keyfile: str | None = _setting(None, "--keyfile", "PATH", _readable_file, "the private key of --certfile (PEM)")
    xheaders: bool = _setting(
        False,
        "--xheaders",
        "",
        parse_bool,
        "trust the X-Real-Ip, X-Forwarded-For and X-Forwarded-Proto headers of a reverse proxy in front (client "
        "addresses for limits and logs, the scheme); only behind a proxy that sets them",
        switch=True,
    )
    history_seconds: float = _setting(
        HISTORY_SECONDS,
        "--history-seconds",
        "SECONDS",
        positive_float,
        "how far back each feed's history goes: what a new page paints at once, what a reconnecting one gets back",
    )
    history_ticks: int = _setting(
        HISTORY_TICKS,
        "--history-ticks",
        "N",
        non_negative_int,
        "the most ticks each feed's history holds, whatever its rate; 0: keep no history",
    )
    history_bytes: int = _setting(
        HISTORY_BYTES,
        "--history-bytes",
        "BYTES",
        positive_int,
        "the most memory each feed's history holds (its frames in both formats and their records), whatever its "
        "ticks' width",
    )
    history_total_bytes: int = _setting(
        4 * HISTORY_BYTES,
        "--history-total-bytes",
        "BYTES",
        positive_int,
        "the most memory all feeds' histories hold together: each feed holds at most this divided by the number of "
        "feeds, if that is less than --history-bytes",
    )
    replay_budget: int = _setting(
        REPLAY_BUDGET,
        "--replay-budget",
        "BYTES",
        positive_int,
        "bytes of held ticks one connection may be sent at once when it subscribes with history or since, refilled "
        "at as many a minute; a replay past what is left is cut to its newest ticks, with gap: true",
    )
    max_backlog_bytes: int = _setting(
        256 * 1024,
        "--max-backlog",
        "BYTES",
        positive_int,
        "bytes a slow client's connection may hold before only the newest tick of each feed is kept",
    )
    stall_timeout: float = _setting(
        10.0,
        "--stall-timeout",
        "SECONDS",
        interval_seconds,
        "close a connection (code 1008) that has read nothing for this long while data waits for it",
    )
    max_message_bytes: int = _setting(
        64 * 1024,
        "--max-message-bytes",
        "BYTES",
        positive_int,
        "the largest message a client may send; a larger one closes its connection (code 1009)",
    )
    ping_interval: float = _setting(
        20.0, "--ping-interval", "SECONDS", interval_seconds, "seconds between the server's pings of each connection"
    )
    ping_timeout: float = _setting(
        20.0,
        "--ping-timeout",
        "SECONDS",
        interval_seconds,
        "close a connection (code 1011) whose ping is still unanswered this long after it went out, checked when "
        "its next ping is due",
    )
    max_connections: int = _setting(
        10_000,
        "--max-connections",
        "N",
        non_negative_int,
        "WebSocket connections open at once; one more is refused with HTTP 503 before the upgrade; 0: no limit",
    )
    max_connections_per_ip: int = _setting(
        256,
        "--max-connections-per-ip",
        "N",
        non_negative_int,
        "WebSocket connections open at once from one client (an IPv4 address, an IPv6 /64); one more gets HTTP 503; "
        "0: no limit",
    )
    max_subscriptions: int = _setting(
        100,
        "--max-subscriptions",
        "N",
        positive_int,
        "feeds one connection may subscribe to; one more is refused with too_many_subscriptions",
    )
    max_rate: float = _setting(
        20.0,
        "--max-rate",
        "PER_SECOND",
        positive_float,
        "messages a second a connection may send, on average; past it (and --max-burst) each gets rate_limited",
    )
    max_burst: int = _setting(
        100,
        "--max-burst",
        "N",
        positive_int,
        "messages a connection may send at once above --max-rate; as many refused in a row close it (code 1008)",
    )
    http_idle_timeout: float = _setting(
        60.0,
        "--http-idle-timeout",
        "SECONDS",
        interval_seconds,
        "close an HTTP connection that has not sent a whole request's headers, or sent nothing, for this long",
    )
    first_byte_timeout: float = _setting(
        5.0,
        "--first-byte-timeout",
        "SECONDS",
        interval_seconds,
        "close an HTTP connection that has sent nothing at all this long after it was accepted (a request on its "
        "way has --http-idle-timeout); at the socket limit, sockets that have sent no request are closed first",
    )
    max_header_bytes: int = _setting(
        16 * 1024,
        "--max-header-bytes",
        "BYTES",
        positive_int,
        "the largest request line and headers an HTTP request may have",
    )
    max_headers: int = _setting(
        100,
        "--max-headers",
        "N",
        positive_int,
        "the most header lines an HTTP request may have; one with more gets 400 and its connection is closed",
    )
    max_http_rate: float = _setting(
        20.0,
        "--max-http-rate",
        "PER_SECOND",
        non_negative_float,
        "HTTP requests a second one client may send, on average; past it (and --max-http-burst) each gets 429 with "
        "Retry-After and its connection is closed; /healthz has a budget of its own; 0: no limit",
    )
    max_http_burst: int = _setting(
        100,
        "--max-http-burst",
        "N",
        positive_int,
        "HTTP requests one client may send at once above --max-http-rate (a page load is about 30)",
    )
    broker: str | None = _setting(
        None,
        "--broker",
        "URL",
        _broker,
        "serve as one node of a cluster that shares its feeds through this Redis: redis://[:PASSWORD@]HOST:PORT/DB, "
        "or rediss:// for tls; without it this process serves everything on its own",
        env=BROKER_ENV,
        secret=True,
    )
    processes: int = _setting(
        1,
        "--processes",
        "N",
        positive_int,
        "server processes on this machine, sharing the port (SO_REUSEPORT); more than 1 needs --broker",
    )
    node_name: str = _setting(
        default_node_name(),
        "--node-name",
        "NAME",
        _node_name,
        "this machine's name in the cluster (letters, digits, dots, dashes); its per-host feeds are FEED@NAME",
    )
    leader_ttl: float = _setting(
        LEADER_TTL,
        "--leader-ttl",
        "SECONDS",
        interval_seconds,
        "how long a feed's leadership lasts in Redis without renewal: a crashed leader is replaced within twice this",
    )

    def __post_init__(self) -> None:
        # Values given in code pass the parsers too, and are kept as the parsers return them ("5" becomes 5.0).
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None and field.default is None:
                continue  # not set
            if field.metadata["repeatable"]:
                parsed = tuple(_parse(field, str(item)) for item in value)
            else:
                parsed = _parse(field, str(value))
            object.__setattr__(self, field.name, parsed)
        if (self.certfile is None) != (self.keyfile is None):
            raise SettingsError("--certfile and --keyfile go together: give both to serve https and wss, or neither")
        if self.processes > 1 and self.broker is None:
            raise SettingsError(f"--processes {self.processes} needs --broker: processes share feeds through Redis")

    @classmethod
    def from_flags(cls, args: argparse.Namespace) -> Settings:
        """The settings given on the command line (as `add_flags` declared them), or `SettingsError`."""
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            given = getattr(args, field.name)
            if given is None and field.metadata["env"] is not None:
                given = os.environ.get(field.metadata["env"]) or None
            if field.metadata["repeatable"]:
                values[field.name] = tuple(_parse(field, text) for text in given or ())
            elif given is None:
                values[field.name] = None
            else:
                values[field.name] = _parse(field, given)
        return cls(**values)

    @property
    def broker_url(self) -> BrokerURL | None:
        """--broker parsed, or None without it (everything in this one process)."""
        return None if self.broker is None else parse_broker_url(self.broker)

    @property
    def max_pending_bytes(self) -> int:
        """Replies and replays one connection may have waiting unread at once, in bytes: a whole replay budget and
        a backlog of replies."""
        return self.replay_budget + self.max_backlog_bytes

    @property
    def max_pending_replays(self) -> int:
        """Replays one connection may have waiting unread at once: two for each subscription it may hold."""
        return 2 * self.max_subscriptions

    def tornado_settings(self) -> dict[str, Any]:
        """The Tornado application settings that carry these."""
        return {"websocket_max_message_size": self.max_message_bytes}

    def http_server_options(self) -> dict[str, Any]:
        """The options of Tornado's `HTTPServer` that carry these (no request here has a body)."""
        return {
            "idle_connection_timeout": self.http_idle_timeout,
            "body_timeout": self.http_idle_timeout,
            "max_header_size": self.max_header_bytes,
            "max_body_size": self.max_message_bytes,
            "xheaders": self.xheaders,
        }


def flag_of(setting: str) -> str:
    """The flag of the `Settings` field named ``setting``: ``flag_of("allowed_hosts")`` is ``--allowed-host``."""
    return next(str(field.metadata["flag"]) for field in dataclasses.fields(Settings) if field.name == setting)


def _parse(field: dataclasses.Field[Any], text: str) -> Any:
    try:
        return field.metadata["parse"](text)
    except ValueError as exc:
        shown = "" if field.metadata["secret"] else f" {text!r}"
        raise SettingsError(f"bad value{shown} for {field.metadata['flag']}: {exc}") from None


def add_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting, read as text (`Settings.from_flags` parses it), its default shown in ``--help``."""
    for field in dataclasses.fields(Settings):
        meta = field.metadata
        if meta["switch"]:
            parser.add_argument(
                meta["flag"], dest=field.name, action="store_const", const="true", default="false", help=meta["help"]
            )
        elif meta["repeatable"]:
            parser.add_argument(
                meta["flag"],
                dest=field.name,
                action="append",
                metavar=meta["metavar"],
                help=f"{meta['help']}; repeatable",
            )
        elif field.default is None:
            where = f"; or the environment variable {meta['env']}" if meta["env"] else ""
            parser.add_argument(
                meta["flag"], dest=field.name, default=None, metavar=meta["metavar"], help=f"{meta['help']}{where}"
            )
        else:
            parser.add_argument(
                meta["flag"],
                dest=field.name,
                default=str(field.default),
                metavar=meta["metavar"],
                help=f"{meta['help']} (default: %(default)s)",
            )
