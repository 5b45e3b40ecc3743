"""A feed's health as clients and operators see it: starting, ok, or failing with the last error and a count."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["FeedStatus", "Health"]


class Health(str, enum.Enum):
    """``starting`` until the first sample or failure, then ``ok`` or ``failing``."""

    STARTING = "starting"
    OK = "ok"
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """``failures`` counts every failed or refused sample since the start; ``error`` is the latest one's reason."""

    feed: str
    health: Health = Health.STARTING
    failures: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"status": self.health.value, "failures": self.failures, "error": self.error}
