"""The gate every HTTP request passes as its headers arrive, before the application sees it.

`RequestGate` stands between Tornado's HTTP server and the application (it is the server's request callback, so a
reverse proxy's client address, with ``--xheaders``, is already applied when a request reaches it). It tells the
HTTP server that a socket holds a request from now on (`handlers.transport.idle`: such a socket is not one to close
to make room), then hands the request on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tornado.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    RequestStartLine,
    ResponseStartLine,
)

__all__ = ["RequestGate"]


class RequestGate(HTTPServerConnectionDelegate):
    """``application`` behind the gate; ``arrived(server_conn)`` is told of each request as its headers arrive."""

    def __init__(self, application: HTTPServerConnectionDelegate, arrived: Callable[[object], None]) -> None:
        self.application = application
        self._arrived = arrived

    def start_request(self, server_conn: object, request_conn: HTTPConnection) -> HTTPMessageDelegate:
        return _GatedRequest(self, server_conn, self.application.start_request(server_conn, request_conn))

    def on_close(self, server_conn: object) -> None:
        self.application.on_close(server_conn)


class _GatedRequest(HTTPMessageDelegate):
    """One request through the gate: the application's delegate for it, told of everything once the gate let it
    through."""

    __slots__ = ("_delegate", "_gate", "_server_conn")

    def __init__(self, gate: RequestGate, server_conn: object, delegate: HTTPMessageDelegate) -> None:
        self._gate = gate
        self._server_conn = server_conn
        self._delegate = delegate

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        self._gate._arrived(self._server_conn)
        return self._delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self._delegate.data_received(chunk)

    def finish(self) -> None:
        self._delegate.finish()

    def on_connection_close(self) -> None:
        self._delegate.on_connection_close()
