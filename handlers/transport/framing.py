"""Reading client frames as RFC 6455 requires: a protocol error closes with a Close frame, never by a dropped socket.

Tornado's reader drops the TCP connection, with no Close frame, on reserved bits, unknown opcodes, oversized or
fragmented control frames and invalid UTF-8, and it accepts unmasked client frames. `StrictProtocol` reads frames
itself and fails the connection the way section 7.1.7 says: a Close frame with **1002** (protocol error) or
**1007** (invalid UTF-8 in a text message, or in a Close frame's reason), then the connection is dropped. Messages
too big still close with 1009. Everything after a frame is read goes to Tornado's own handling (pings, pongs,
Close, messages to the handler). Reading frames is not public API in Tornado: what it takes of Tornado's internals
comes from `handlers.transport.tornado_internals`, which checks them at start.
"""

from __future__ import annotations

import logging
import struct

from handlers.protocol.codes import CloseCode

from .tornado_internals import ProtocolInternals, websocket_mask

__all__ = ["StrictProtocol", "valid_close_code"]

log = logging.getLogger("dashboard.socket")

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODES = frozenset({CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG})
FIN = 0x80
RSV_MASK = 0x70
OPCODE_MASK = 0x0F
MASKED = 0x80
LENGTH_MASK = 0x7F
MAX_CONTROL_PAYLOAD = 125
LENGTH_16, LENGTH_64 = 126, 127
MASK_BYTES = 4


def valid_close_code(code: int) -> bool:
    """Whether a peer may send ``code`` in a Close frame (RFC 6455 section 7.4)."""
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


class FramingError(Exception):
    """A frame that breaks the rules: the code and reason of the Close frame that answers it."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class StrictProtocol(ProtocolInternals):
    """Tornado's WebSocket protocol, with a reader that enforces the client's side of the framing rules."""

    async def receive_frame(self) -> None:
        # An idle connection waits here, in a coroutine with as few locals as can be, and no deeper one: every idle
        # connection holds this frame for its whole life.
        first, second = await self.read_bytes(2)
        await self._receive_rest(first, second)

    async def _receive_rest(self, first: int, second: int) -> None:
        """The rest of a frame whose first two bytes came, then what it means."""
        try:
            final, opcode, length = _check_header(first, second)
            if length == LENGTH_16:
                (length,) = struct.unpack("!H", await self.read_bytes(2))
            elif length == LENGTH_64:
                (length,) = struct.unpack("!Q", await self.read_bytes(8))
            buffered = self.fragments
            if length + (len(buffered) if buffered is not None and not opcode & 0x8 else 0) > self.max_message_size:
                self.close(CloseCode.MESSAGE_TOO_BIG, "message too big")
                self.abort()
                return
            mask = await self.read_bytes(MASK_BYTES)
            message = self._assemble(final, opcode, websocket_mask(mask, await self.read_bytes(length)))
            if message is None:
                return  # a fragment: the message goes on
            opcode, data = message
            _check_content(opcode, data)
        except FramingError as error:
            self._fail(error.code, error.reason)
            return
        handled = self.handle_message(opcode, data)
        if handled is not None:
            await handled

    def _assemble(self, final: bool, opcode: int, data: bytes) -> tuple[int, bytes] | None:
        """The whole message a frame ends (control frames stand alone), or None while a fragmented one goes on."""
        buffered = self.fragments
        if opcode == CONTINUATION:
            if buffered is None:
                raise FramingError(CloseCode.PROTOCOL_ERROR, "continuation frame with no message to continue")
            buffered.extend(data)
            if not final:
                return None
            started = self.fragments_opcode
            self.end_fragments()
            return started, bytes(buffered)
        if not opcode & 0x8:
            if buffered is not None:
                raise FramingError(CloseCode.PROTOCOL_ERROR, "new message before the fragmented one ended")
            if not final:
                self.start_fragments(opcode, data)
                return None
        return opcode, data

    def _fail(self, code: CloseCode, reason: str) -> None:
        """Fail the WebSocket connection (RFC 6455 section 7.1.7): a Close frame saying why, then drop it."""
        may_log = getattr(self.handler, "may_log", None)
        if may_log is None or may_log():
            request = getattr(self.handler, "request", None)
            log.info("closing a connection from %s with %d: %s", getattr(request, "remote_ip", "?"), code, reason)
        self.close(code, reason)
        self.abort()


def _check_header(first: int, second: int) -> tuple[bool, int, int]:
    """FIN, the opcode and the 7-bit length of a frame's first two bytes, once they pass the rules."""
    final = bool(first & FIN)
    opcode = first & OPCODE_MASK
    length = second & LENGTH_MASK
    # No extension is negotiated, so no reserved bit has a meaning.
    if first & RSV_MASK:
        raise FramingError(CloseCode.PROTOCOL_ERROR, "reserved bits set")
    if opcode not in OPCODES:
        raise FramingError(CloseCode.PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
    if not second & MASKED:
        raise FramingError(CloseCode.PROTOCOL_ERROR, "client frames must be masked")
    if opcode & 0x8 and (length > MAX_CONTROL_PAYLOAD or not final):
        raise FramingError(CloseCode.PROTOCOL_ERROR, "control frames must be final and carry at most 125 bytes")
    return final, opcode, length


def _check_content(opcode: int, data: bytes) -> None:
    """Text must be UTF-8; a Close frame's payload is empty, or a code a peer may send and a UTF-8 reason."""
    if opcode == TEXT and not _is_utf8(data):
        raise FramingError(CloseCode.INVALID_DATA, "invalid UTF-8 in a text message")
    if opcode != CLOSE or not data:
        return
    if len(data) == 1:
        raise FramingError(CloseCode.PROTOCOL_ERROR, "a Close frame's payload is a 2-byte code and a reason")
    (code,) = struct.unpack("!H", data[:2])
    if not valid_close_code(code):
        raise FramingError(CloseCode.PROTOCOL_ERROR, f"close code {code} may not be sent")
    if not _is_utf8(data[2:]):
        raise FramingError(CloseCode.INVALID_DATA, "invalid UTF-8 in a Close frame's reason")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
