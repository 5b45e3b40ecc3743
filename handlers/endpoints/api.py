"""``/api/feeds`` and ``/healthz``: what the server runs, and whether it is up.

When the server authenticates clients, ``/api/feeds`` wants a token as ``/ws`` does, and lists only the feeds its
bearer may read; ``/healthz`` stays open, for load balancers and monitors (it tells how many feeds run, no more).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from feeds.hub import Hub
from handlers.security.auth import Identity, may_read
from handlers.security.guard import Guard

from .base import Guarded

__all__ = ["FeedsHandler", "HealthHandler", "describe_feeds"]


def describe_feeds(hub: Hub, identity: Identity | None = None) -> list[dict[str, Any]]:
    """Every feed ``identity`` may read as a JSON-ready object: name, description, interval (seconds), whether its
    data is simulated, fields with units, its options with their help (not their values: an option may hold a
    password), status."""
    return [
        {
            "name": feed.name,
            "description": feed.description,
            "interval": feed.interval,
            "simulated": feed.simulated,
            "fields": [{"name": field.name, "unit": field.unit} for field in hub.fields(feed.name)],
            "options": [{"name": key, "help": option.help} for key, option in sorted(type(feed).options().items())],
            **hub.status(feed.name).to_json(),
        }
        for feed in hub.feeds
        if may_read(identity, feed.roles)
    ]


class JSONHandler(Guarded):
    def initialize(self, hub: Hub, guard: Guard) -> None:
        self.hub = hub
        self.initialize_guard(guard)

    def write_json(self, value: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(orjson.dumps(value))


class FeedsHandler(JSONHandler):
    def prepare(self) -> None:
        super().prepare()
        self.identity = self.identify()

    def get(self) -> None:
        self.write_json(describe_feeds(self.hub, self.identity))


class HealthHandler(JSONHandler):
    """``ok``, or ``degraded`` with the reasons (in a cluster: the broker is unreachable); 200 either way, since
    every client stays served."""

    def initialize(self, hub: Hub, guard: Guard, problems: Callable[[], list[str]] | None = None) -> None:
        super().initialize(hub, guard)
        self.problems = problems

    def get(self) -> None:
        problems = self.problems() if self.problems is not None else []
        status = "degraded" if problems else "ok"
        self.write_json({"status": status, "feeds": len(self.hub.feeds), "problems": problems})
