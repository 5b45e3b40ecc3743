"""A feed's health as clients and operators see it: starting, ok, failing with the last error and a count, or stale.

An error's text is whatever a plugin's exception or refused sample said, of any size; a status carries it cut to
`MAX_ERROR_CHARS` (`error_line`), since every subscriber of the feed is sent it, and `/api/feeds` lists it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["MAX_ERROR_CHARS", "FeedStatus", "Health", "error_line"]

# The most characters of an error's text a status keeps; what is cut is counted after them: "... (N more characters)".
MAX_ERROR_CHARS = 300


class Health(str, enum.Enum):
    """``starting`` until the first sample or failure, then ``ok`` or ``failing``; in a cluster, ``stale`` while no
    process produces the feed (its leader stopped and none has taken over yet, or this node lost the broker)."""

    STARTING = "starting"
    OK = "ok"
    FAILING = "failing"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """``failures`` counts every failed or refused sample since the start; ``error`` is the latest one's reason, one
    line of at most `MAX_ERROR_CHARS` characters and the count of those cut (`error_line`)."""

    feed: str
    health: Health = Health.STARTING
    failures: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"status": self.health.value, "failures": self.failures, "error": self.error}

    def changes(self, before: FeedStatus) -> bool:
        """Whether this status, following ``before``, changes the feed's health or its error (rather than only
        counting another failure)."""
        return self.health is not before.health or self.error != before.error


def error_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` as one line (each run of whitespace one space) of its first ``limit`` characters, followed by how many
    more were cut: ``... (1048276 more characters)``. Cut first: the cost does not grow with the text."""
    if len(text) <= limit:
        return " ".join(text.split())
    return f"{' '.join(text[:limit].split())}... ({len(text) - limit} more characters)"
