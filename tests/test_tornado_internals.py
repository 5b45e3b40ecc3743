"""handlers.transport.tornado_internals: the names of Tornado's the server relies on are checked at start, and a
Tornado without one stops the server with one line naming it, before it serves anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from handlers.transport import tornado_internals
from handlers.transport.tornado_internals import check_tornado, websocket_mask

ROOT = Path(__file__).resolve().parent.parent

# A Tornado that moved one name: (what the test takes away before the server starts, what the line must name).
MOVED = [
    ("del tornado.util._websocket_mask", "tornado.util._websocket_mask is gone"),
    ("del tornado.websocket._WebSocketParams", "tornado.websocket._WebSocketParams is gone"),
    ("del tornado.websocket.WebSocketProtocol13._read_bytes", "WebSocketProtocol13._read_bytes is no longer"),
    ("tornado.util._websocket_mask = lambda mask, data: data", "_websocket_mask no longer unmasks"),
    (
        "tornado.iostream.BaseIOStream.__init__ = lambda self, *args, **kwargs: None",
        "IOStream no longer counts the bytes it holds unread in _read_buffer_size",
    ),
    ("del tornado.http1connection.HTTP1Connection._parse_headers", "HTTP1Connection._parse_headers is gone"),
]


def test_the_installed_tornado_has_everything_the_server_relies_on() -> None:
    check_tornado()
    assert tornado_internals._problems() == []


def test_the_mask_unmasks_as_rfc_6455_says() -> None:
    masked = bytes(byte ^ key for byte, key in zip(b"hello", b"\x0a\x0b\x0c\x0d\x0a", strict=True))
    assert websocket_mask(b"\x0a\x0b\x0c\x0d", masked) == b"hello"


@pytest.mark.parametrize(("change", "named"), MOVED)
def test_a_tornado_without_a_name_stops_the_server_with_one_line_naming_it(change: str, named: str) -> None:
    code = (
        "import sys, tornado.http1connection, tornado.iostream, tornado.util, tornado.websocket\n"
        f"{change}\n"
        "import server\n"
        "sys.exit(server.main(['--host', '127.0.0.1', '--port', '0']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""  # nothing served: no "listening on" line
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("server.py: error: tornado ")
    assert named in lines[0]
    assert "install a tornado within setup.cfg's range" in lines[0]
