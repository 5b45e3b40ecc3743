"""What every handler of the server shares: the guard's checks before it acts, the security headers, log hygiene.

`Guarded` is a base for Tornado handlers: its ``prepare()`` refuses a request for a name the server does not answer
to (`handlers.security.guard`) before the handler does anything, telling the client the flag that would let it in and
the log the name refused, and every response carries ``X-Content-Type-Options:
nosniff`` and ``Referrer-Policy: no-referrer`` (a token in the page's URL must not leak in a Referer header). Its
log lines about a request name it with credentials redacted, and count against the client's budget of lines
(`handlers.security.accesslog`).
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from types import TracebackType
from typing import Any

from tornado.log import app_log, gen_log
from tornado.web import HTTPError, RequestHandler

from handlers.security.accesslog import AccessLog, redact
from handlers.security.auth import Identity, bearer_token
from handlers.security.guard import Guard, RefusedError, split_host
from handlers.settings import flag_of

__all__ = ["SECURITY_HEADERS", "Guarded", "NotFound"]

log = logging.getLogger("dashboard.auth")

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
ALLOWED_HOST_FLAG = flag_of("allowed_hosts")
# A name the answer to a refused Host may repeat: a DNS name, not whatever a client put in the header.
DNS_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*")


class Guarded(RequestHandler):
    """A handler that runs only for requests the guard lets in."""

    guard: Guard

    def initialize_guard(self, guard: Guard) -> None:
        """Called by each subclass's ``initialize()``, which receives the guard from the route table."""
        self.guard = guard

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def prepare(self) -> None:
        try:
            self.guard.check_host(self.request.host)
        except RefusedError as refusal:
            if self.may_log():
                log.warning(
                    "refused %s: %s (let it in with %s NAME)", self.summary(), refusal.reason, ALLOWED_HOST_FLAG
                )
            raise HTTPError(refusal.status) from None

    def identify(self) -> Identity | None:
        """Who sent this request, from its ``?token=`` (browsers cannot set headers on a WebSocket) or its
        ``Authorization: Bearer`` header; None when the server does not authenticate; HTTP 401 when the token fails.
        """
        token = self.get_query_argument("token", None) or bearer_token(self.request.headers.get("Authorization"))
        try:
            return self.guard.identify(token)
        except RefusedError as refusal:
            if self.may_log():
                log.info("refused %s: %s", self.summary(), refusal.reason)
            raise HTTPError(refusal.status) from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # A status line's worth, nothing more: a refusal tells a client nothing it could use to probe.
        if status_code == HTTPStatus.UNAUTHORIZED:
            self.set_header("WWW-Authenticate", 'Bearer realm="dashboard"')
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        text = f"{status_code} {reason_of(status_code, kwargs.get('exc_info'))}\n"
        if status_code == HTTPStatus.MISDIRECTED_REQUEST:
            text += misdirected(self.request.host)
        self.finish(text)

    def may_log(self) -> bool:
        """Whether a line about this request's client fits in its budget now (it uses up one)."""
        log_function = self.application.settings.get("log_function")
        return not isinstance(log_function, AccessLog) or log_function.allow(self.request.remote_ip or "?")

    def summary(self) -> str:
        """The request in a log line: method, URI with its credentials redacted, client address."""
        return f"{self.request.method} {redact(self.request.uri or '')} ({self.request.remote_ip})"

    def log_exception(
        self, typ: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Tornado's, but redacted (it would print the request's repr, query included) and within the budget.
        if isinstance(value, HTTPError):
            if value.get_message() and self.may_log():
                gen_log.warning("%d %s: %s", value.status_code, self.summary(), value.get_message())
        elif self.may_log():
            app_log.error("Uncaught exception %s", self.summary(), exc_info=(typ, value, tb))  # type: ignore[arg-type]


def misdirected(host: str) -> str:
    """What a client that named a host this server does not answer to is told: how to make it answer. A newcomer who
    opens ``http://myhost:8888/`` learns the flag; a rebound page learns nothing it did not know."""
    name = split_host(host)
    name = name if DNS_NAME.fullmatch(name) else "NAME"
    return (
        f"this server does not answer to the name {name}: start it with {ALLOWED_HOST_FLAG} {name} to open it by that "
        "name, or open it by its IP address\n"
    )


def reason_of(status_code: int, exc_info: Any) -> str:
    """The reason phrase of an error response: the `HTTPError`'s own (a limit's "Too Many Connections"), else the
    standard phrase of its status."""
    error = exc_info[1] if exc_info else None
    if isinstance(error, HTTPError) and error.reason:
        return str(error.reason)
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Unknown"


class NotFound(Guarded):
    """Every path no route names: 404, with the same checks and headers as the rest."""

    def initialize(self, guard: Guard) -> None:
        self.initialize_guard(guard)

    def prepare(self) -> None:
        super().prepare()
        raise HTTPError(404)
