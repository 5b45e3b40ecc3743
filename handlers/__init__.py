"""Thin handlers over the core in `feeds`: the page, static files, the JSON API and the WebSocket.

`handlers.app.make_app` builds the web application. The package itself loads no Tornado: what a connection's
messages mean (`handlers.session`, `handlers.protocol`) and the server's settings (`handlers.settings`) are
transport-free, and the application's module is imported on first use of `make_app`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .settings import Settings

if TYPE_CHECKING:
    from .app import UPLOT_DIR, WEB_DIR, make_app

__all__ = ["UPLOT_DIR", "WEB_DIR", "Settings", "make_app"]


def __getattr__(name: str) -> Any:
    if name in ("UPLOT_DIR", "WEB_DIR", "make_app"):
        return getattr(importlib.import_module(".app", __name__), name)
    raise AttributeError(f"module 'handlers' has no attribute {name!r}")
