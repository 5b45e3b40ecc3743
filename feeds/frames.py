"""WebSocket frames as bytes (RFC 6455, section 5.2), built once and written as they are to every client.

Server frames are never masked and never fragmented here, and no extension is negotiated (the server does not offer
permessage-deflate), so a frame is its header and the payload itself. Pure bytes, no socket: the hub frames each
encoded tick once, and the connections write the same bytes to every subscriber.
"""

from __future__ import annotations

import enum
import struct

__all__ = ["Opcode", "frame", "payload_of"]

_FIN = 0x80
_SHORT_LIMIT = 126  # payloads up to 125 bytes carry their length in the second byte
_MEDIUM_LIMIT = 1 << 16  # up to 65535 bytes: a 16-bit length follows, else a 64-bit one
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


class Opcode(enum.IntEnum):
    TEXT = 0x1
    BINARY = 0x2
    PING = 0x9


def frame(payload: bytes, opcode: Opcode) -> bytes:
    """One final, unmasked frame carrying ``payload``."""
    first = _FIN | opcode
    length = len(payload)
    if length < _SHORT_LIMIT:
        header = bytes((first, length))
    elif length < _MEDIUM_LIMIT:
        header = _MEDIUM.pack(first, 126, length)
    else:
        header = _LONG.pack(first, 127, length)
    return header + payload


def payload_of(data: bytes) -> bytes:
    """The payload of one unmasked frame built by `frame`."""
    length = data[1] & 0x7F
    if length == 126:
        return data[_MEDIUM.size :]
    if length == 127:
        return data[_LONG.size :]
    return data[2:]
