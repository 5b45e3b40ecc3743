"""What nodes tell each other about their feeds: each machine's own feeds, and the settings of the shared ones.

A per-host feed (`feeds.feed.Feed.per_host`, such as ``system``) measures the machine it runs on, so in a cluster
each machine publishes its own as ``NAME@NODE``. Every node describes its own in Redis (`describe`), and builds a
`RemoteFeed` for each of the other machines' (`RemoteFeed.of`): never sampled here, but served like any other feed
(its history, its fields, the roles that may read it). The shared feeds' settings (`settings_of`) are compared at
start, so that a node run with other options than the rest says so.
"""

from __future__ import annotations

from typing import Any

import orjson

from feeds.feed import Feed, Field, option_text

__all__ = ["FORGET_AFTER", "RemoteFeed", "describe", "settings_of"]

# A machine whose node has not described its own feeds for this long (seconds) is gone: a node that starts after
# that does not serve them (the ones that saw it go keep them, stale).
FORGET_AFTER = 3600.0


def settings_of(feed: Feed) -> dict[str, Any]:
    """What must be the same for a feed on every node: its interval, fields and options."""
    return {
        "fields": [[field.name, field.unit] for field in feed.fields],
        "options": {key: option_text(getattr(feed, key)) for key in sorted(type(feed).options())},
    }


def describe(feed: Feed, seen: float) -> bytes:
    """What another node needs to serve ``feed`` without running it; ``seen``: now, in Unix seconds (its node says
    so every round, and a machine not heard of for `FORGET_AFTER` is forgotten)."""
    return orjson.dumps(
        {
            "seen": seen,
            "interval": feed.interval,
            "timeout": feed.timeout,
            "fields": [[field.name, field.unit] for field in feed.fields],
            "roles": list(feed.roles),
            "description": feed.description,
            "simulated": feed.simulated,
        }
    )


class RemoteFeed(Feed):
    """Another machine's own feed, as this node serves it: described, never sampled here."""

    per_host = True

    def __init__(
        self,
        name: str,
        *,
        interval: float,
        timeout: float,
        fields: tuple[Field, ...],
        roles: tuple[str, ...],
        description: str,
        simulated: bool,
        seen: float,
    ) -> None:
        # Not Feed.__init__: there are no options to parse, only what the feed's own node described.
        self.name = name  # type: ignore[misc]  # one instance per remote feed, named by its node
        self.interval = interval
        self.timeout = timeout
        self.fields = fields
        self.roles = roles
        self.description = description  # type: ignore[misc]
        self.simulated = simulated  # type: ignore[misc]
        self.seen = seen

    @classmethod
    def of(cls, name: str, text: bytes) -> RemoteFeed:
        """The feed ``name`` as its node described it (`describe`); `ValueError` when the description is not one."""
        try:
            data = orjson.loads(text)
            return cls(
                name,
                interval=float(data["interval"]),
                timeout=float(data["timeout"]),
                fields=tuple(Field(str(field), str(unit)) for field, unit in data["fields"]),
                roles=tuple(str(role) for role in data["roles"]),
                description=str(data["description"]),
                simulated=bool(data["simulated"]),
                seen=float(data["seen"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad description of feed {name}: {exc}") from None

    def sample(self) -> dict[str, float]:
        raise RuntimeError(f"feed {self.name} is sampled on its own machine, not here")
