"""The gate every HTTP request passes as its headers arrive, before the application sees it: its client's rate.

`RequestGate` stands between Tornado's HTTP server and the application (it is the server's request callback, so a
reverse proxy's client address, with ``--xheaders``, is already applied when a request reaches it). It tells the
HTTP server that a socket holds a request from now on (`handlers.transport.idle`: such a socket is not one to close
to make room), then takes one of the request's client's tokens: ``--max-http-rate`` a second, ``--max-http-burst``
at once, per client (`handlers.security.clients`: an IPv4 address, an IPv6 /64). A request over its client's rate is
answered 429 with ``Retry-After`` by the gate itself, in one write of bytes made once, before any handler is made,
and its connection is closed (whatever the client pipelined behind it is not read). The health check's paths have a
bucket of their own per client, at the same rate: a page's burst of requests never fails a load balancer's check
from the same address, and a flood of them is bounded like any other. The buckets are a
`feeds.tokenbucket.LineBudget`, bounded in number: the least recent client is forgotten first (and starts again
full).
"""

from __future__ import annotations

import math
import time
from asyncio import Future
from collections.abc import Awaitable, Callable, Collection
from http import HTTPStatus

from tornado.http1connection import HTTP1Connection
from tornado.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    RequestStartLine,
    ResponseStartLine,
)
from tornado.iostream import IOStream

from feeds.tokenbucket import LineBudget
from handlers.security.clients import client_of
from handlers.settings import Settings

__all__ = ["MAX_RATED_CLIENTS", "RequestGate"]

# Clients whose request rate is remembered at once; 210 bytes each (2 MB in all).
MAX_RATED_CLIENTS = 10_000
_TOO_MANY = HTTPStatus.TOO_MANY_REQUESTS
_REFUSAL_BODY = f"{_TOO_MANY.value} {_TOO_MANY.phrase}\n".encode()


class RequestGate(HTTPServerConnectionDelegate):
    """``application`` behind the gate; ``arrived(server_conn)`` is told of each request as its headers arrive.

    ``health_paths`` are the paths whose requests count against a bucket of their own; ``clock`` gives seconds.
    """

    def __init__(
        self,
        application: HTTPServerConnectionDelegate,
        arrived: Callable[[object], None],
        settings: Settings,
        health_paths: Collection[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.application = application
        self._arrived = arrived
        self._health_paths = frozenset(health_paths)
        rate, burst = settings.max_http_rate, settings.max_http_burst
        self._budgets = LineBudget(rate, burst, MAX_RATED_CLIENTS, clock) if rate else None
        # Whole seconds until a refused client has a token again, at most.
        retry_after = math.ceil(1 / rate) if rate else 0
        self._refusal = (
            f"HTTP/1.1 {_TOO_MANY.value} {_TOO_MANY.phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(_REFUSAL_BODY)}\r\nRetry-After: {retry_after}\r\nConnection: close\r\n\r\n"
        ).encode() + _REFUSAL_BODY
        self.limited = 0  # requests answered 429, for tests and metrics

    def start_request(self, server_conn: object, request_conn: HTTPConnection) -> HTTPMessageDelegate:
        return _GatedRequest(self, server_conn, request_conn, self.application.start_request(server_conn, request_conn))

    def on_close(self, server_conn: object) -> None:
        self.application.on_close(server_conn)

    def admits(self, request_conn: HTTPConnection, start_line: RequestStartLine) -> bool:
        """Whether the request's client has a token left (it takes one)."""
        if self._budgets is None:
            return True
        # Tornado's own request takes its remote_ip from the connection's context so.
        client = client_of(getattr(getattr(request_conn, "context", None), "remote_ip", None) or "")
        path = start_line.path.partition("?")[0]
        return self._budgets.take((client, path in self._health_paths)) is not None

    def refuse(self, request_conn: HTTPConnection) -> None:
        """Answer 429 with Retry-After, then close the connection. The gate takes the stream from Tornado to do it:
        Tornado would go on parsing the requests a client pipelined behind this one, from what it has read already,
        however closed the connection."""
        self.limited += 1
        assert isinstance(request_conn, HTTP1Connection), "Tornado's HTTPServer reads requests so"
        stream = request_conn.detach()
        stream.write(self._refusal).add_done_callback(lambda written: _close(stream, written))


def _close(stream: IOStream, written: Future[None]) -> None:
    written.exception()  # a client already gone is no news
    stream.close()


class _GatedRequest(HTTPMessageDelegate):
    """One request through the gate: the application's delegate for it, told of everything once the gate let it
    through (a request the gate answers ends there: Tornado lets go of the connection)."""

    __slots__ = ("_delegate", "_gate", "_request_conn", "_server_conn")

    def __init__(
        self, gate: RequestGate, server_conn: object, request_conn: HTTPConnection, delegate: HTTPMessageDelegate
    ) -> None:
        self._gate = gate
        self._server_conn = server_conn
        self._request_conn = request_conn
        self._delegate = delegate

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        self._gate._arrived(self._server_conn)
        if isinstance(start_line, RequestStartLine) and not self._gate.admits(self._request_conn, start_line):
            self._gate.refuse(self._request_conn)
            return None
        return self._delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self._delegate.data_received(chunk)

    def finish(self) -> None:
        self._delegate.finish()

    def on_connection_close(self) -> None:
        self._delegate.on_connection_close()
