"""Thin Tornado handlers over the core in `feeds`: the page, static files, the JSON API and the WebSocket.

`make_app` holds the route table, the one place that says which URL goes where.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tornado.web import Application, StaticFileHandler

from feeds.hub import Hub

from .api import FeedsHandler, HealthHandler
from .connections import Connections
from .keepalive import Keepalive
from .socket import FeedSocket
from .writer import Limits

__all__ = ["MAX_MESSAGE_BYTES", "PING_INTERVAL", "Limits", "make_app"]

ROOT = Path(__file__).resolve().parent.parent
WEB_DIR = ROOT / "web"
UPLOT_DIR = ROOT / "node_modules" / "uplot" / "dist"

MAX_MESSAGE_BYTES = 64 * 1024
# Seconds between the server's WebSocket pings, and how long a peer has to answer one.
PING_INTERVAL = 20.0


def make_app(
    hub: Hub,
    limits: Limits | None = None,
    ping_interval: float = PING_INTERVAL,
    connections: Connections[FeedSocket] | None = None,
    **settings: Any,
) -> Application:
    """The web application serving ``hub``'s feeds; ``settings`` override Tornado application settings.

    Every connection is pinged each ``ping_interval`` seconds and closed when it misses a ping's deadline (as long
    again). Open connections are kept in ``connections`` (a registry of the app's own when not given).
    """
    if "websocket_ping_interval" in settings:
        # Tornado's own pings would go around each connection's writer, which must know of every byte written.
        raise ValueError("set the keepalive with ping_interval, not websocket_ping_interval")
    deps = {"hub": hub}
    connections = Connections() if connections is None else connections
    keepalive = Keepalive(connections, ping_interval, ping_interval)
    routes: list[tuple[str, Any, dict[str, Any]]] = [
        (r"/()", StaticFileHandler, {"path": str(WEB_DIR), "default_filename": "index.html"}),
        (r"/static/(.*)", StaticFileHandler, {"path": str(WEB_DIR)}),
        (r"/vendor/uplot/(.*)", StaticFileHandler, {"path": str(UPLOT_DIR)}),
        (r"/api/feeds", FeedsHandler, deps),
        (r"/healthz", HealthHandler, deps),
        (
            r"/ws",
            FeedSocket,
            {**deps, "limits": limits or Limits(), "connections": connections, "keepalive": keepalive},
        ),
    ]
    defaults: dict[str, Any] = {"websocket_max_message_size": MAX_MESSAGE_BYTES}
    return Application(routes, **{**defaults, **settings})
