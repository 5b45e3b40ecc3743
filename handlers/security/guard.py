"""Who may ask at all: the checks every request passes before a handler acts on it, apart from Tornado.

`Guard` reads the request's ``Host`` and ``Origin`` headers as plain strings and refuses with a `RefusedError` (an HTTP
status and a short reason). A ``Host`` must be one this server answers to, so that a page on a rebound DNS name
cannot read it (DNS rebinding): an IP address (a rebinding needs a name), ``localhost`` and its subdomains, the
name given to ``--host``, and each ``--allowed-host``; anything else gets 421. A browser's WebSocket handshake must
come from the server's own origin or an ``--allowed-origin`` (cross-site WebSocket hijacking); anything else gets
403. When the server authenticates its clients, `Guard.identify` turns the token a request carries into who sent it
(`handlers.security.auth`), or refuses it with 401. `handlers.endpoints.base` applies the guard to every handler.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from .accesslog import quoted
from .auth import Authenticator, AuthError, Identity

__all__ = ["Guard", "RefusedError", "normalize_origin", "split_host"]

LOCALHOST = "localhost"


class RefusedError(Exception):
    """A request refused before anything acted on it: ``status`` for the response, ``reason`` for the log."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def split_host(host: str) -> str:
    """The name or address of a ``Host`` header, without its port or a final dot, lowercase, IPv6 brackets
    removed; "" for anything that is not a host and an optional ``:port``."""
    host = host.strip().lower()
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        return address if rest == "" or (rest.startswith(":") and rest[1:].isdigit()) else ""
    name, colon, port = host.rpartition(":")
    if colon:
        if not port.isdigit() or ":" in name:
            return ""
        host = name
    return host[:-1] if host.endswith(".") else host


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]``, lowercase, as browsers send ``Origin``; raises `ValueError` for anything else."""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ValueError("expected an origin such as https://dashboard.example.com or http://localhost:8888")
    return f"{parts.scheme}://{parts.netloc}"


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Guard:
    """The Host and Origin rules of one server; ``listen_host`` is ``--host``."""

    listen_host: str
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    # Verifies tokens when the server authenticates its clients; None: it does not, every feed is open.
    authenticator: Authenticator | None = None

    @classmethod
    def of(
        cls,
        listen_host: str,
        allowed_hosts: Iterable[str],
        allowed_origins: Iterable[str],
        authenticator: Authenticator | None = None,
    ) -> Guard:
        return cls(
            split_host(listen_host),
            tuple(host.strip().lower() for host in allowed_hosts),
            tuple(normalize_origin(origin) for origin in allowed_origins),
            authenticator,
        )

    def identify(self, token: str | None) -> Identity | None:
        """Who presents ``token``: None when authentication is off; refused (401) when the token does not verify.

        The refusal's reason is for the log; the client is told nothing but 401.
        """
        if self.authenticator is None:
            return None
        try:
            return self.authenticator.verify(token)
        except AuthError as error:
            raise RefusedError(HTTPStatus.UNAUTHORIZED, str(error)) from None

    def host_allowed(self, host: str) -> bool:
        name = split_host(host)
        if not name:
            return False
        if _is_ip(name) or name == LOCALHOST or name.endswith("." + LOCALHOST) or name == self.listen_host:
            return True
        return any(
            name == allowed or (allowed.startswith("*.") and name.endswith(allowed[1:]))
            for allowed in self.allowed_hosts
        )

    def check_host(self, host: str) -> None:
        """Refuse (421) a request for a name this server does not answer to."""
        if not self.host_allowed(host):
            raise RefusedError(HTTPStatus.MISDIRECTED_REQUEST, f"host {quoted(host)} is not one this server answers to")

    def origin_allowed(self, origin: str, host: str) -> bool:
        """Whether a page on ``origin`` may open a WebSocket to this server, reached as ``host``."""
        try:
            normalized = normalize_origin(origin)
        except ValueError:
            return False
        return normalized.partition("://")[2] == host.strip().lower() or normalized in self.allowed_origins
