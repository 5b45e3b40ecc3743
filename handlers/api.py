"""``/api/feeds`` and ``/healthz``: what the server runs, and whether it is up."""

from __future__ import annotations

from typing import Any

import orjson

from feeds.hub import Hub

from .base import Guarded
from .guard import Guard

__all__ = ["FeedsHandler", "HealthHandler", "describe_feeds"]


def describe_feeds(hub: Hub) -> list[dict[str, Any]]:
    """Every feed as a JSON-ready object: name, description, interval (seconds), fields with units, status."""
    return [
        {
            "name": feed.name,
            "description": feed.description,
            "interval": feed.interval,
            "fields": [{"name": field.name, "unit": field.unit} for field in feed.fields],
            **hub.status(feed.name).to_json(),
        }
        for feed in hub.feeds
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
    def get(self) -> None:
        self.write_json(describe_feeds(self.hub))


class HealthHandler(JSONHandler):
    def get(self) -> None:
        self.write_json({"status": "ok", "feeds": len(self.hub.feeds)})
