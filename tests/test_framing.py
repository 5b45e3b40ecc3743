"""handlers.transport.framing: a client breaking RFC 6455's framing rules is closed with 1002 or 1007, not dropped."""

from __future__ import annotations

import struct

import orjson
import pytest

from feeds.frames import Opcode
from handlers.protocol.codes import CloseCode
from handlers.transport.framing import valid_close_code

from .rawws import RawClient
from .wsclient import Client

FIN = 0x80
CONTINUATION, CLOSE, PING = 0x0, 0x8, 0x9


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ((FIN | Opcode.TEXT, b"caf\xc3", True), (CloseCode.INVALID_DATA, "invalid UTF-8 in a text message")),
        ((FIN | Opcode.TEXT, b"\xff\xfe", True), (CloseCode.INVALID_DATA, "invalid UTF-8 in a text message")),
        ((FIN | 0x40 | Opcode.TEXT, b"{}", True), (CloseCode.PROTOCOL_ERROR, "reserved bits set")),
        ((FIN | 0x10 | Opcode.BINARY, b"x", True), (CloseCode.PROTOCOL_ERROR, "reserved bits set")),
        ((FIN | 0x3, b"x", True), (CloseCode.PROTOCOL_ERROR, "unknown opcode 0x3")),
        ((FIN | 0xB, b"", True), (CloseCode.PROTOCOL_ERROR, "unknown opcode 0xb")),
        ((FIN | PING, b"p" * 126, True), (CloseCode.PROTOCOL_ERROR, "control frames must be final")),
        ((PING, b"p", True), (CloseCode.PROTOCOL_ERROR, "control frames must be final")),
        ((FIN | Opcode.TEXT, b'{"op": "ping"}', False), (CloseCode.PROTOCOL_ERROR, "client frames must be masked")),
        ((FIN | CONTINUATION, b"x", True), (CloseCode.PROTOCOL_ERROR, "continuation frame with no message")),
        ((FIN | CLOSE, b"\x03", True), (CloseCode.PROTOCOL_ERROR, "a Close frame's payload is a 2-byte code")),
        ((FIN | CLOSE, struct.pack("!H", 1005), True), (CloseCode.PROTOCOL_ERROR, "close code 1005 may not be sent")),
        ((FIN | CLOSE, struct.pack("!H", 1000) + b"\xc3", True), (CloseCode.INVALID_DATA, "invalid UTF-8 in a Close")),
    ],
)
async def test_a_frame_breaking_the_rules_is_answered_with_a_close_frame_saying_why(
    http_server: object, http_port: int, frame: tuple[int, bytes, bool], expected: tuple[int, str]
) -> None:
    bystander = await Client.connect(http_port)
    await bystander.subscribe("stocks")
    offender = await RawClient.connect(http_port)
    offender.send_frame(*frame)
    code, reason = await offender.read_close()
    assert (code, reason[: len(expected[1])]) == expected
    assert await offender.reader.read() == b""  # then the server dropped the connection
    offender.close()
    # Nobody else noticed.
    ticks = await bystander.ticks(3)
    assert [tick.seq for tick in ticks] == list(range(ticks[0].seq, ticks[0].seq + 3))
    bystander.close()


@pytest.mark.gen_test
async def test_a_new_message_inside_a_fragmented_one_is_a_protocol_error(http_server: object, http_port: int) -> None:
    client = await RawClient.connect(http_port)
    client.send_frame(Opcode.TEXT, b'{"op": ')  # not final: a fragmented message begins
    client.send_frame(FIN | Opcode.TEXT, b"{}")
    assert await client.read_close() == (CloseCode.PROTOCOL_ERROR, "new message before the fragmented one ended")
    client.close()


@pytest.mark.gen_test
async def test_fragmented_messages_and_pings_between_their_fragments_are_fine(
    http_server: object, http_port: int
) -> None:
    client = await RawClient.connect(http_port)
    client.send_frame(Opcode.TEXT, b'{"op": "pi')
    client.send_frame(FIN | PING, b"between")
    client.send_frame(CONTINUATION, b'ng", "id": "caf')
    client.send_frame(FIN | CONTINUATION, 'é"}'.encode())
    opcode, payload, _ = await client.read_frame(pings=True)
    assert (opcode, payload) == (0xA, b"between")  # the pong
    opcode, payload, _ = await client.read_frame()
    assert opcode == Opcode.TEXT
    assert {key: value for key, value in orjson.loads(payload).items() if key != "ts"} == {"op": "pong", "id": "café"}
    client.send_frame(FIN | CLOSE, struct.pack("!H", 1000) + b"bye")
    assert await client.read_close() == (1000, "")
    client.close()


def test_only_the_close_codes_a_peer_may_send_are_valid() -> None:
    assert [
        code for code in (999, 1000, 1004, 1005, 1006, 1011, 1015, 2999, 3000, 4999, 5000) if valid_close_code(code)
    ] == [
        1000,
        1011,
        3000,
        4999,
    ]
