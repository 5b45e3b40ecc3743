"""Who a client is, and what it may read: JSON Web Tokens signed with the server's secret, and roles per feed.

Authentication is off unless the server has a secret (``--auth-secret`` or ``DASHBOARD_AUTH_SECRET``, at least
``MIN_SECRET_BYTES`` bytes). With one, every client presents a token signed HS256 with it, whose claims are ``sub``
(who), ``exp`` (until when, Unix seconds) and ``roles`` (a list of strings). `Authenticator.verify` turns a token
into an `Identity` or refuses it with an `AuthError` whose reason is for the log, never for the client. A feed may
name the roles that may read it (``Feed.roles``); `may_read` says whether an identity holds one. Pure: no Tornado.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard

import jwt

__all__ = [
    "ALGORITHM",
    "MIN_SECRET_BYTES",
    "SECRET_ENV",
    "AuthError",
    "Authenticator",
    "Identity",
    "bearer_token",
    "may_read",
]

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
# Where the server, and `server.py token`, read the secret when no flag gives it.
SECRET_ENV = "DASHBOARD_AUTH_SECRET"
MAX_TOKEN_CHARS = 8192
MAX_TIME = 2**53


class AuthError(Exception):
    """A token that does not let its bearer in; the message says why, for the server's log."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token says its bearer is: ``sub``, its ``roles``, and ``exp`` (Unix seconds)."""

    sub: str
    roles: frozenset[str]
    exp: float


def check_secret(secret: str) -> str:
    """The secret, or `ValueError` if it is too short to sign tokens with."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"expected a secret of at least {MIN_SECRET_BYTES} bytes (e.g. from `openssl rand -hex 32`)")
    return secret


class Authenticator:
    """Verifies and mints the tokens of one secret."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time) -> None:
        self._secret = check_secret(secret)
        self._clock = clock

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise AuthError("no token")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError("token too long")
        try:
            # The times (exp, nbf) are checked below, against the authenticator's clock: one time for the server
            # and its tests.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["sub", "exp"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidSignatureError:
            raise AuthError("bad signature") from None
        except jwt.InvalidTokenError as exc:
            # The kind of error only: PyJWT's messages quote the token's own header, which a client writes.
            raise AuthError(f"malformed token ({type(exc).__name__})") from None
        return _identity(claims, self._clock())

    def mint(self, sub: str, roles: Iterable[str], ttl: float) -> str:
        """A token for ``sub`` with ``roles``, valid for ``ttl`` seconds from now."""
        now = self._clock()
        claims = {"sub": sub, "roles": sorted(set(roles)), "iat": int(now), "exp": int(now + ttl)}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)


def _identity(claims: dict[str, Any], now: float) -> Identity:
    sub, exp, roles = claims.get("sub"), claims.get("exp"), claims.get("roles", [])
    if not isinstance(sub, str) or not sub:
        raise AuthError("malformed token: 'sub' must be a non-empty string")
    if not _is_time(exp):
        raise AuthError("malformed token: 'exp' must be a time in Unix seconds")
    if exp <= now:
        raise AuthError("token expired")
    not_before = claims.get("nbf", now)
    if not _is_time(not_before):
        raise AuthError("malformed token: 'nbf' must be a time in Unix seconds")
    if not_before > now:
        raise AuthError("token not valid yet")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise AuthError("malformed token: 'roles' must be a list of strings")
    return Identity(sub, frozenset(roles), float(exp))


def _is_time(value: object) -> TypeGuard[float]:
    """A finite number of Unix seconds that a float holds exactly (no inf, no NaN, no 10**400)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) < MAX_TIME  # false for inf and NaN too, and no int too large for a float gets past it


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if that is what it is."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def may_read(identity: Identity | None, roles: Iterable[str]) -> bool:
    """Whether ``identity`` may read a feed that names ``roles`` (none: any client that is let in at all).

    ``identity`` is None when authentication is off: then every feed is open.
    """
    if identity is None:
        return True
    wanted = frozenset(roles)
    return not wanted or bool(identity.roles & wanted)
