"""What every handler of the server shares: the guard's checks before it acts, and the security headers.

`Guarded` is a base for Tornado handlers: its ``prepare()`` refuses a request for a name the server does not answer
to (`handlers.guard`) before the handler does anything, and every response carries ``X-Content-Type-Options:
nosniff`` and ``Referrer-Policy: no-referrer`` (a token in the page's URL must not leak in a Referer header).
"""

from __future__ import annotations

from tornado.web import HTTPError, RequestHandler

from .guard import Guard, RefusedError

__all__ = ["SECURITY_HEADERS", "Guarded", "NotFound"]

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


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
            raise HTTPError(refusal.status) from None


class NotFound(Guarded):
    """Every path no route names: 404, with the same checks and headers as the rest."""

    def initialize(self, guard: Guard) -> None:
        self.initialize_guard(guard)

    def prepare(self) -> None:
        super().prepare()
        raise HTTPError(404)
