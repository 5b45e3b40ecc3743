"""The web application: `make_app` holds the route table, the one place that says which URL goes where."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tornado.web import Application

from feeds.hub import Hub
from handlers.protocol.session import Shared
from handlers.security.accesslog import AccessLog
from handlers.security.auth import Authenticator
from handlers.security.guard import Guard
from handlers.settings import Settings
from handlers.transport.connections import Connections
from handlers.transport.keepalive import Keepalive

from .api import FeedsHandler, HealthHandler
from .base import NotFound
from .socket import FeedSocket
from .static import WebFiles

__all__ = ["HEALTH_PATH", "UPLOT_DIR", "WEB_DIR", "make_app"]

ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = ROOT / "web"
UPLOT_DIR = ROOT / "node_modules" / "uplot" / "dist"
# The health check's path: the HTTP server gives its requests a rate budget of their own.
HEALTH_PATH = "/healthz"


def make_app(
    hub: Hub,
    settings: Settings | None = None,
    connections: Connections[FeedSocket] | None = None,
    problems: Callable[[], list[str]] | None = None,
    **tornado_settings: Any,
) -> Application:
    """The web application serving ``hub``'s feeds under ``settings``; ``tornado_settings`` are Tornado's own.

    Open connections are kept in ``connections`` (a registry of the app's own when not given). ``problems`` says
    why the server is degraded, if it is (in a cluster, the broker's `problems`): `/healthz` reports them.
    """
    if "websocket_ping_interval" in tornado_settings:
        # Tornado's own pings would go around each connection's writer, which must know of every byte written.
        raise ValueError("set the keepalive with Settings.ping_interval, not websocket_ping_interval")
    ours = sorted(set(tornado_settings) & {field.name for field in dataclasses.fields(Settings)})
    if ours:
        raise ValueError(f"{ours[0]} is a setting of the server: pass Settings({ours[0]}=...), not a keyword")
    settings = settings or Settings()
    connections = Connections() if connections is None else connections
    keepalive = Keepalive(connections, settings.ping_interval, settings.ping_timeout)
    authenticator = None if settings.auth_secret is None else Authenticator(settings.auth_secret)
    guard = Guard.of(settings.host, settings.allowed_hosts, settings.allowed_origins, authenticator)
    deps = {"hub": hub, "guard": guard}
    shared = Shared(hub, settings, authenticator)
    socket = {
        "guard": guard,
        "shared": shared,
        "settings": settings,
        "connections": connections,
        "keepalive": keepalive,
    }
    routes: list[tuple[str, Any, dict[str, Any]]] = [
        (r"/()", WebFiles, {"path": str(WEB_DIR), "default_filename": "index.html", "guard": guard}),
        (r"/static/(.*)", WebFiles, {"path": str(WEB_DIR), "guard": guard}),
        (r"/vendor/uplot/(.*)", WebFiles, {"path": str(UPLOT_DIR), "guard": guard}),
        (r"/api/feeds", FeedsHandler, deps),
        (HEALTH_PATH, HealthHandler, {**deps, "problems": problems}),
        (r"/ws", FeedSocket, socket),
    ]
    defaults = {
        **settings.tornado_settings(),
        "default_handler_class": NotFound,
        "default_handler_args": {"guard": guard},
        "log_function": AccessLog(),
    }
    return Application(routes, **{**defaults, **tornado_settings})
