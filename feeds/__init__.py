"""The dashboard's core: feeds, the producer that samples them, and the hub that fans their ticks out.

It does no I/O and imports neither Tornado nor `handlers` (tests/test_layers.py): it turns samples into ticks and
ticks into the bytes of the WebSocket frames every subscriber gets (framing is a pure function of bytes, so it is
built here, once per tick), and hands those bytes to whatever accepts them (`feeds.hub.Subscriber`). `handlers/`
and `server.py` build on this package.
"""

from __future__ import annotations

from .feed import Feed, Field, Option, OptionError, feed
from .tick import Tick

__all__ = ["Feed", "Field", "Option", "OptionError", "Tick", "feed"]
