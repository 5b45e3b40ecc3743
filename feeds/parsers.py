"""Parsers of settings written as text: a feed's ``--option FEED.KEY=VALUE`` and the server's own flags alike.

Each takes the text as written and returns the value, or raises `ValueError` with a short reason ("expected a
number greater than 0") that the caller puts after the name of what was being set.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "MAX_PORT",
    "MIN_INTERVAL",
    "interval_seconds",
    "non_negative_float",
    "non_negative_int",
    "parse_bool",
    "parse_float",
    "parse_int",
    "parse_roles",
    "parse_str_tuple",
    "port_number",
    "positive_float",
    "positive_int",
]

MAX_PORT = 65535
MIN_INTERVAL = 0.001
ROLE_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def parse_float(text: str) -> float:
    """Parse any finite number, negative ones included."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError("expected a number")
    return value


def parse_int(text: str) -> int:
    """Parse any whole number, negative ones included."""
    try:
        return int(text)
    except ValueError:
        raise ValueError("expected a whole number") from None


def positive_float(text: str) -> float:
    """Parse a finite number greater than zero."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError("expected a number greater than 0")
    return value


def non_negative_float(text: str) -> float:
    """Parse a finite number, zero or greater."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError("expected a number, 0 or greater")
    return value


def interval_seconds(text: str) -> float:
    """Parse an interval or a timeout: a finite number of seconds, at least ``MIN_INTERVAL`` (a shorter one would
    only burn a core)."""
    value = positive_float(text)
    if value < MIN_INTERVAL:
        raise ValueError(f"expected at least {MIN_INTERVAL:g} seconds: a shorter interval would only burn a core")
    return value


def positive_int(text: str) -> int:
    """Parse a whole number greater than zero."""
    return _whole_number(text, 1, None, "expected a whole number greater than 0")


def non_negative_int(text: str) -> int:
    """Parse a whole number, 0 or more (0 often means "no limit")."""
    return _whole_number(text, 0, None, "expected a whole number, 0 or more")


def port_number(text: str) -> int:
    """Parse a TCP port: 1 to 65535, or 0 for any free port."""
    return _whole_number(text, 0, MAX_PORT, f"expected a port from 1 to {MAX_PORT}, or 0 for any free port")


def _whole_number(text: str, lowest: int, highest: int | None, expected: str) -> int:
    """A whole number from ``lowest`` to ``highest`` (None: no bound), or `ValueError` saying ``expected``."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(expected) from None
    if value < lowest or (highest is not None and value > highest):
        raise ValueError(expected)
    return value


def parse_bool(text: str) -> bool:
    """Parse true or false, also written yes/no, on/off or 1/0."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false (or yes/no, on/off, 1/0)")


def parse_roles(text: str) -> tuple[str, ...]:
    """Parse comma-separated role names: letters, digits and ``_.:-``, at most 64 characters each."""
    roles = parse_str_tuple(text)
    for role in roles:
        if not ROLE_PATTERN.match(role):
            raise ValueError(f"invalid role {role!r}: expected letters, digits, '_', '.', ':' or '-', at most 64")
    return roles


def parse_str_tuple(text: str) -> tuple[str, ...]:
    """Parse comma-separated words, spaces around them ignored, empty ones dropped."""
    return tuple(part.strip() for part in text.split(",") if part.strip())
