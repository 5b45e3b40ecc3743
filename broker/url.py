"""The ``--broker`` URL: where the cluster's Redis is, read and checked before anything connects to it.

``redis://[[USERNAME]:PASSWORD@]HOST[:PORT][/DB]``, or ``rediss://`` for TLS, as Redis's own clients write it; the
port defaults to 6379 and the database to 0, and special characters in a user name or password are percent-encoded.
The password is a secret: it is never part of an error message (they quote nothing of the URL, since a malformed one
may have the password anywhere in it), nor of a `BrokerURL`'s repr or str; logs show `BrokerURL.redacted`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

__all__ = ["BROKER_ENV", "DEFAULT_DB", "DEFAULT_PORT", "SCHEMES", "BrokerURL", "parse_broker_url"]

# Read when --broker is not given: a password there stays out of the process list, as one on the command line is not.
BROKER_ENV = "DASHBOARD_BROKER"
SCHEMES = ("redis", "rediss")
DEFAULT_PORT = 6379
DEFAULT_DB = 0
MAX_PORT = 65535
EXPECTED = "expected redis://[[USERNAME]:PASSWORD@]HOST[:PORT][/DB], or rediss://... for tls"
REDACTED = "***"


@dataclass(frozen=True)
class BrokerURL:
    """A parsed ``--broker`` URL. Its repr and str hide the password: show `redacted`."""

    scheme: str
    host: str
    port: int = DEFAULT_PORT
    db: int = DEFAULT_DB
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)

    @property
    def tls(self) -> bool:
        """Whether the connection is made over TLS (``rediss://``)."""
        return self.scheme == "rediss"

    @property
    def redacted(self) -> str:
        """The URL with the password replaced by ``***``, for logs and messages."""
        userinfo = quote(self.username or "", safe="")
        if self.password is not None:
            userinfo += f":{REDACTED}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{userinfo + '@' if userinfo else ''}{host}:{self.port}/{self.db}"

    def __str__(self) -> str:
        return self.redacted

    def connection_options(self) -> dict[str, Any]:
        """The keyword arguments of redis-py's ``Redis(...)`` that connect to this URL (the password among them)."""
        return {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "username": self.username,
            "password": self.password,
            "ssl": self.tls,
        }


def parse_broker_url(text: str) -> BrokerURL:
    """Parse and check a ``--broker`` URL; `ValueError` with a lowercase message that quotes nothing of ``text``."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:  # an unbalanced [ or ] around the host
        raise ValueError(f"not a url: {EXPECTED}") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(EXPECTED)
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise ValueError("the url takes no ?options or #fragment (percent-encode ?, # and / in a password)")
    userinfo, _, hostport = parts.netloc.rpartition("@")
    username, colon, password = userinfo.partition(":")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"no host: {EXPECTED}")
    return BrokerURL(
        scheme=parts.scheme,
        host=host,
        port=_port(hostport),
        db=_db(parts.path),
        username=unquote(username) or None,
        password=unquote(password) if colon and password else None,
    )


def _port(hostport: str) -> int:
    """The port after the host (``HOST:PORT``, ``[IPV6]:PORT``), or the default."""
    _, bracket, after = hostport.rpartition("]")
    rest = after if bracket else hostport
    _, colon, port = rest.rpartition(":")
    if not colon or not port:
        return DEFAULT_PORT
    if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= MAX_PORT:
        # A password with an unencoded '/' ends the host early: its start then reads as a port. Quote none of it.
        raise ValueError(f"expected a port from 1 to {MAX_PORT} after the host (percent-encode / in a password)")
    return int(port)


def _db(path: str) -> int:
    """The database number of the path (``/DB``), or the default."""
    number = path.removeprefix("/")
    if not number:
        return DEFAULT_DB
    if not number.isascii() or not number.isdigit():
        raise ValueError("expected a database number (0, 1, ...) after the host and port, as in redis://HOST:6379/0")
    return int(number)
