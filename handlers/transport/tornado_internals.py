"""Every name of Tornado's that is not public API, in one place, each with why and what it saves; checked at start.

Tornado's public API does not reach six things this server needs. Each is named here and nowhere else:

- **The frame reader** (`ProtocolInternals`: ``WebSocketProtocol13._receive_frame``, ``_read_bytes``,
  ``_handle_message``, ``_abort``, the fragment buffer, and ``tornado.util._websocket_mask``). Tornado's reader drops
  the TCP connection with no Close frame on reserved bits, unknown opcodes, bad control frames and invalid UTF-8,
  and accepts unmasked client frames; RFC 6455 asks for a Close frame with 1002 or 1007. There is no public hook
  for reading frames, so `handlers.transport.framing` overrides the reader and hands whole messages back to
  Tornado's own handling. The mask is Tornado's C speedup: 0.14 µs for a 100-byte message against 8.3 µs for a
  Python loop (1,000 bytes: 0.28 against 100 µs).
- **Building that protocol** (``tornado.websocket._WebSocketParams``): ``get_websocket_protocol`` is the documented
  place to choose the protocol, but its parameters object has no public constructor.
- **The connection's stream** (``WebSocketHandler.ws_connection`` and its ``stream``): the writer sends pre-built
  frames with one ``socket.send`` instead of ``write_message``, which frames again and makes a Future, a Task and a
  copy per message: the fan-out's lead, about 8 µs of CPU per client and message where a tutorial Tornado server
  spends about 60 (docs/performance.md, "What the fast path does").
- **The handshake's leftovers** (``RequestHandler._headers``, the request's connection objects, ``ui``): Tornado
  keeps them for the connection's whole life; letting go of them took an idle connection from 14.3 to 10.5 KB
  traced, 16.0 to 11.8 KB of RSS (docs/performance.md).
- **Whether a socket has sent anything** (``IOStream._read_buffer_size``): Tornado tells nothing of a request
  before its headers are all in, and ``--first-byte-timeout`` closes a socket that has sent nothing, not one whose
  headers are on their way (a slow link's); without it the limit would cut every request whose headers took longer
  than it to arrive. Looked at once per socket, when its limit runs out.
- **The parsing of a request's headers** (``HTTP1Connection._parse_headers``): Tornado parses every header line
  before anyone may look at the request, about 2 µs a line, and ``--max-header-bytes`` lets 16 KiB of them
  through: 2,600 lines (13 KB) take 5.7 ms to parse, and such a request 9 ms of CPU in all, against 0.3 for a plain
  one. `limit_header_lines` counts the block's lines first (5 µs for those 13 KB) and refuses it as malformed,
  which Tornado answers with 400 and a closed connection.

`check_tornado` looks at each of these in the installed Tornado, cheaply and without a connection, and raises
`TornadoInternalsError` with one line naming what moved; `server.py` calls it before serving, so a Tornado release
that moves one stops the server at start instead of corrupting a stream in production. setup.cfg's range for
tornado is the set of releases the tests passed on.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import tornado
import tornado.util
import tornado.web
import tornado.websocket
from tornado.http1connection import HTTP1Connection
from tornado.httputil import HTTPConnection, HTTPHeaders, HTTPInputError
from tornado.iostream import BaseIOStream, IOStream
from tornado.web import RequestHandler
from tornado.websocket import WebSocketHandler, WebSocketProtocol, WebSocketProtocol13

__all__ = [
    "ProtocolInternals",
    "TornadoInternalsError",
    "check_tornado",
    "has_unread_bytes",
    "is_closing",
    "limit_header_lines",
    "protocol_params",
    "release_handshake",
    "stream_of",
    "websocket_mask",
]

_MISSING = object()
# Set in WebSocketProtocol13.__init__: its parameters, and the fragmented message being assembled.
_PROTOCOL_ATTRIBUTES = ("_fragmented_message_buffer", "_fragmented_message_opcode", "params")
_PROTOCOL_COROUTINES = ("_receive_frame", "_read_bytes")
_PROTOCOL_METHODS = ("_handle_message", "_abort", "close", "is_closing")
# The coroutine that reads a request and parses its headers: _read_message_inner since Tornado 6.6, _read_message
# before.
_REQUEST_READERS = ("_read_message_inner", "_read_message")
# Lines of a request's head besides its headers: the request line and the empty line that ends them.
_HEAD_LINES = 2


class TornadoInternalsError(RuntimeError):
    """The installed Tornado lacks, or changed, a name this server relies on."""


def _private(owner: object, name: str) -> Any:
    return getattr(owner, name, _MISSING)


_mask = _private(tornado.util, "_websocket_mask")


def websocket_mask(mask: bytes, data: bytes) -> bytes:
    """``data`` XOR the 4-byte ``mask``, repeated: a client frame's payload, unmasked (Tornado's C speedup)."""
    return _mask(mask, data)  # type: ignore[no-any-return]


def protocol_params(max_message_size: int) -> Any:
    """The parameters `WebSocketProtocol13` is built with, without compression or Tornado's own pings."""
    params = _private(tornado.websocket, "_WebSocketParams")
    return params(max_message_size=max_message_size, compression_options=None)


def stream_of(handler: WebSocketHandler) -> IOStream | None:
    """The stream a WebSocket connection writes to; None once Tornado let go of the connection."""
    connection = handler.ws_connection
    return None if connection is None else connection.stream


def is_closing(handler: WebSocketHandler) -> bool:
    """Whether the connection is closing or closed (Tornado has let go of it, or sent or received a Close frame)."""
    connection = handler.ws_connection
    return connection is None or connection.is_closing()


def has_unread_bytes(stream: BaseIOStream) -> bool:
    """Whether ``stream`` holds bytes it received and nobody has read yet (a request's first bytes, say)."""
    return bool(stream._read_buffer_size)


def limit_header_lines(connection: HTTPConnection, most: int) -> None:
    """Make the request ``connection`` reads next refuse more than ``most`` header lines before parsing any (400,
    and the connection closed, as for any malformed request). A header folded over lines counts each."""
    if not isinstance(connection, HTTP1Connection):
        return
    parse = connection._parse_headers

    def parse_within_limit(data: bytes) -> tuple[str, HTTPHeaders]:
        if data.count(b"\n") - _HEAD_LINES > most:
            raise HTTPInputError(f"more than {most} header lines")
        return parse(data)

    connection._parse_headers = parse_within_limit  # type: ignore[method-assign]


def release_handshake(handler: RequestHandler) -> None:
    """Let go of what only the HTTP handshake needed, which Tornado would keep for the connection's whole life.

    The request keeps its method, URI and remote address for log lines (the caller redacts the URI first). Its
    headers are cleared in place: ``WebSocketHandler.get()`` holds the same object until the connection ends.
    """
    request = handler.request
    request.headers.clear()
    request.query = ""
    request.arguments.clear()
    request.query_arguments.clear()
    request.connection = None
    request.server_connection = None
    handler._headers = HTTPHeaders()  # the 101 response's headers, long written
    handler.ui = None  # type: ignore[assignment]  # Tornado itself drops it when the connection closes


class ProtocolInternals(WebSocketProtocol13):
    """`WebSocketProtocol13` with its frame loop opened up under names of our own.

    A subclass defines ``receive_frame`` (a coroutine reading one frame, as Tornado's ``_receive_frame`` does) and
    it becomes Tornado's frame loop: the same function object, so an idle connection waits in it with no frame of
    ours in between. ``read_bytes``, ``handle_message`` and ``abort`` hand over to Tornado's own methods.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        reader = cls.__dict__.get("receive_frame")
        if reader is not None:
            cls._receive_frame = reader  # type: ignore[method-assign]

    def read_bytes(self, count: int) -> Awaitable[bytes]:
        """The next ``count`` bytes from the client (a plain function handing back Tornado's coroutine: an idle
        connection awaits it with no frame of ours around it)."""
        return self._read_bytes(count)

    def handle_message(self, opcode: int, data: bytes) -> Awaitable[None] | None:
        """Tornado's handling of a whole message (ping, pong, Close, or the handler's ``on_message``)."""
        return self._handle_message(opcode, data)

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        self._abort()

    @property
    def max_message_size(self) -> int:
        return self.params.max_message_size

    @property
    def fragments(self) -> bytearray | None:
        """The fragmented message being assembled, None between messages."""
        return self._fragmented_message_buffer

    @property
    def fragments_opcode(self) -> int:
        """The opcode of the message `fragments` holds."""
        return self._fragmented_message_opcode  # type: ignore[return-value]  # set with the buffer

    def start_fragments(self, opcode: int, data: bytes) -> None:
        self._fragmented_message_opcode = opcode  # type: ignore[assignment]  # Tornado declares it None
        self._fragmented_message_buffer = bytearray(data)

    def end_fragments(self) -> None:
        self._fragmented_message_buffer = None


def _problems() -> list[str]:
    """What the installed Tornado lacks of what this module relies on, one short phrase each."""
    problems = []
    if _mask is _MISSING:
        problems.append("tornado.util._websocket_mask is gone")
    elif _mask(b"\x01\x02\x03\x04", b"\x00\x00\x00\x00\x05") != b"\x01\x02\x03\x04\x04":
        problems.append("tornado.util._websocket_mask no longer unmasks")
    params = _private(tornado.websocket, "_WebSocketParams")
    if params is _MISSING:
        problems.append("tornado.websocket._WebSocketParams is gone")
    elif not {"max_message_size", "compression_options"} <= set(inspect.signature(params).parameters):
        problems.append("tornado.websocket._WebSocketParams takes other arguments")
    for name in _PROTOCOL_COROUTINES:
        if not inspect.iscoroutinefunction(_private(WebSocketProtocol13, name)):
            problems.append(f"WebSocketProtocol13.{name} is no longer a coroutine")
    problems += [
        f"WebSocketProtocol13.{name} is gone"
        for name in _PROTOCOL_METHODS
        if not callable(_private(WebSocketProtocol13, name))
    ]
    assigned = _assigned(WebSocketProtocol13.__init__)
    problems += [f"WebSocketProtocol13 no longer sets {name}" for name in _PROTOCOL_ATTRIBUTES if name not in assigned]
    if "stream" not in _assigned(WebSocketProtocol.__init__):
        problems.append("WebSocketProtocol no longer keeps its stream")
    if "ws_connection" not in _assigned(WebSocketHandler.__init__):
        problems.append("WebSocketHandler no longer keeps ws_connection")
    if "_read_buffer_size" not in _assigned(BaseIOStream.__init__):
        problems.append("IOStream no longer counts the bytes it holds unread in _read_buffer_size")
    if not callable(_private(HTTP1Connection, "_parse_headers")):
        problems.append("HTTP1Connection._parse_headers is gone")
    elif not any(
        "_parse_headers" in _assigned(reader)
        for name in _REQUEST_READERS
        if callable(reader := _private(HTTP1Connection, name))
    ):
        problems.append("HTTP1Connection no longer reads a request's headers with _parse_headers")
    if "_headers" not in _assigned(RequestHandler.clear):
        problems.append("RequestHandler no longer keeps its response headers in _headers")
    return problems


def _assigned(function: Callable[..., Any]) -> frozenset[str]:
    """The attribute names ``function``'s code refers to (what an ``__init__`` sets is among them)."""
    return frozenset(function.__code__.co_names)


def check_tornado() -> None:
    """Raise `TornadoInternalsError` (one line) if the installed Tornado lacks a name this server relies on."""
    problems = _problems()
    if problems:
        raise TornadoInternalsError(
            f"tornado {tornado.version} does not fit this server ({'; '.join(problems)}): "
            "install a tornado within setup.cfg's range (see handlers/transport/tornado_internals.py)"
        )
