"""The dashboard's core: feeds, the producer that samples them, and the hub that fans their ticks out.

Nothing here knows about HTTP or WebSocket handlers; `handlers/` and `server.py` build on this package.
"""

from __future__ import annotations

from .feed import Feed, Field, Option, OptionError, feed
from .tick import Tick

__all__ = ["Feed", "Field", "Option", "OptionError", "Tick", "feed"]
