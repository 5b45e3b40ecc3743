"""The fan-out fast path: frames built once and written directly, bounded slow clients, and robust broadcasts."""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
import types
from asyncio import Future
from collections.abc import Iterator

import orjson
import pytest
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream
from tornado.web import Application
from tornado.websocket import WebSocketProtocol13, _WebSocketParams
from websockets.asyncio.client import connect

from feeds import Feed, Field
from feeds.codec import Format, decode_binary
from feeds.encoded import EncodedTick
from feeds.frames import Opcode, frame
from feeds.history import History
from feeds.hub import Hub
from feeds.producer import Producer
from feeds.stocks import StocksFeed
from handlers.endpoints.app import make_app
from handlers.endpoints.socket import FeedSocket
from handlers.protocol.codes import CloseCode
from handlers.settings import Settings
from handlers.transport.writer import CHUNK_BYTES, FrameWriter

from .rawws import CLOSE, RawClient
from .waiting import changed, until
from .wsclient import Client

MAX_BACKLOG = 64 * 1024
STALL_TIMEOUT = 1.0
WIDE_FIELDS = 256
WIDE_INTERVAL = 0.005


class Wide(Feed):
    """About 20 KB of JSON per tick, 200 times a second: fills a stalled client's kernel buffers in about a second."""

    name = "wide"
    interval = WIDE_INTERVAL
    fields = tuple(Field(f"a_rather_long_field_name_to_make_big_frames_{index:03}") for index in range(WIDE_FIELDS))

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    async def sample(self) -> dict[str, float]:  # type: ignore[override]
        self.n += 1
        return {field.name: self.n + index / 7 for index, field in enumerate(self.fields)}


@pytest.fixture
def hub() -> Hub:
    return Hub([StocksFeed(interval=0.02, seed=3), Wide()])


@pytest.fixture
def app(hub: Hub, io_loop: IOLoop) -> Iterator[Application]:
    producer = Producer(hub.feeds, hub)
    producer.start()
    yield make_app(hub, Settings(max_backlog_bytes=MAX_BACKLOG, stall_timeout=STALL_TIMEOUT))
    io_loop.run_sync(producer.stop)


def writer_of(hub: Hub, feed: str) -> FrameWriter:
    (subscriber,) = hub.subscribers(feed)
    assert isinstance(subscriber, FrameWriter)
    return subscriber


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY])
def test_frames_are_byte_for_byte_what_tornado_builds(size: int, opcode: Opcode) -> None:
    assert_tornado_frame(opcode, bytes(range(256)) * (size // 256) + bytes(size % 256))


def test_the_keepalive_ping_frame_is_what_tornado_builds() -> None:
    assert_tornado_frame(Opcode.PING, b"")


def assert_tornado_frame(opcode: Opcode, payload: bytes) -> None:
    """Tornado's own framing code, given a stream that keeps what it is asked to write."""

    class Recorder:
        written = b""

        def write(self, data: bytes) -> None:
            Recorder.written += data

    protocol = WebSocketProtocol13.__new__(WebSocketProtocol13)
    protocol.stream = Recorder()  # type: ignore[assignment]
    protocol.mask_outgoing = False
    protocol._wire_bytes_out = 0
    protocol._write_frame(True, opcode, payload)
    assert frame(payload, opcode) == Recorder.written


@pytest.mark.gen_test
async def test_the_writer_sits_on_tornados_stream_and_socket(http_server: object, http_port: int, hub: Hub) -> None:
    """The one thing the fast path takes from Tornado beyond its public API; fails loudly if Tornado changes it."""
    client = await Client.connect(http_port)
    await client.subscribe("stocks")
    # FeedSocket.open() took the stream from ws_connection.stream: had Tornado moved it, the handshake would fail.
    writer = writer_of(hub, "stocks")
    assert isinstance(writer.stream, IOStream)
    assert writer._socket is writer.stream.socket
    assert writer.stream.socket.getpeername() == client.connection.protocol.stream.socket.getsockname()  # type: ignore[union-attr]
    client.close()


@pytest.mark.gen_test
async def test_a_connection_lets_go_of_its_handshake_and_keeps_working(
    http_server: object, http_port: int, hub: Hub
) -> None:
    """What only the HTTP handshake needed is released after it; fails loudly if Tornado moves any of it."""
    client = await Client.connect(http_port)
    await client.subscribe("stocks")
    handler = writer_of(hub, "stocks")._close_connection.__self__  # type: ignore[attr-defined]
    assert isinstance(handler, FeedSocket)
    request = handler.request
    assert len(request.headers) == 0
    assert request.connection is None
    assert request.server_connection is None
    assert len(handler._headers) == 0
    assert handler.ui is None
    # What log lines use stays.
    assert (request.method, request.uri, request.remote_ip) == ("GET", "/ws", "127.0.0.1")
    # The connection goes on: ticks in order, replies, and unsubscribing.
    ticks = await client.ticks(3)
    assert [tick.seq for tick in ticks] == list(range(ticks[0].seq, ticks[0].seq + 3))
    assert (await client.request({"op": "ping", "id": 1}))["op"] == "pong"
    assert (await client.request({"op": "unsubscribe", "feed": "stocks"}))["op"] == "unsubscribed"
    client.close()


@pytest.mark.gen_test
@pytest.mark.parametrize("fmt", ["json", "binary"])
async def test_a_strict_client_offering_compression_gets_valid_frames(
    http_server: object, http_port: int, fmt: str
) -> None:
    async with connect(f"ws://127.0.0.1:{http_port}/ws", compression="deflate") as ws:
        # Offered, not negotiated: every frame is plain, and the strict client checks each one.
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        await ws.send(orjson.dumps({"op": "subscribe", "feed": "stocks", "format": fmt}).decode())
        reply = orjson.loads(await ws.recv())
        assert reply["op"] == "subscribed"
        seqs: list[int] = []
        while len(seqs) < 5:
            message = await ws.recv()
            if fmt == "binary" and isinstance(message, bytes):
                seqs.append(decode_binary(message, tuple(reply["fields"])).seq)
            elif fmt == "binary":
                assert orjson.loads(message)["op"] == "status"  # status messages are text in every format
            elif orjson.loads(message)["op"] == "data":
                seqs.append(orjson.loads(message)["seq"])
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


@pytest.mark.gen_test
async def test_fast_path_frames_match_tornados_on_the_wire(http_server: object, http_port: int) -> None:
    """A pong written by the fast path arrives as exactly the frame Tornado would have built for it."""
    raw = await RawClient.connect(http_port)
    raw.send_json({"op": "ping", "id": 7})
    opcode, payload, wire = await raw.read_frame()
    assert opcode == Opcode.TEXT
    assert orjson.loads(payload).keys() == {"op", "id", "ts"}
    assert wire == frame(payload, Opcode.TEXT)
    raw.close()


@pytest.mark.gen_test(timeout=30)
async def test_a_stalled_client_is_bounded_coalesced_and_closed_while_others_see_every_tick(
    http_server: object, http_port: int, hub: Hub
) -> None:
    normal = await Client.connect(http_port, max_message_size=1 << 20)
    await normal.subscribe("wide")
    stalled = await RawClient.connect(http_port, receive_buffer=4096)
    stalled.send_json({"op": "subscribe", "feed": "wide"})
    # Read the reply, then never read again: the asyncio reader stops at its limit, the kernel buffers fill.
    opcode, payload, _ = await stalled.read_frame()
    assert orjson.loads(payload)["op"] == "subscribed"
    writer = next(sub for sub in hub.subscribers("wide") if sub is not writer_of_normal(hub, normal))
    assert isinstance(writer, FrameWriter)
    stream = writer.stream

    frame_size = len(frame(orjson.dumps({"op": "data", "values": {f.name: 1e6 for f in Wide.fields}}), Opcode.TEXT))
    seqs: list[int] = []
    most_held = 0
    while hub.subscriber_count("wide") == 2:
        tick, _ = await normal.tick()
        seqs.append(tick.seq)
        # What the server holds for the stalled client: the writer's backlog and the stream's unsent data.
        held = writer.backlog_bytes + len(stream._write_buffer)
        most_held = max(most_held, held)
    # Memory stayed bounded: a backlog's worth plus a frame or two in flight, far below what the ticks amounted to.
    assert most_held <= 2 * MAX_BACKLOG + 3 * frame_size, most_held
    assert writer.coalesced > 0
    assert len(seqs) * frame_size > 20 * MAX_BACKLOG
    # The normal client on the same feed saw every tick.
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    # Still flowing for it after the stalled client is gone.
    more = await normal.ticks(10)
    assert more[0].seq == seqs[-1] + 1

    # The stalled client, reading at last, finds what was in flight, then the close frame with its reason.
    while True:
        opcode, payload, _ = await stalled.read_frame()
        if opcode == CLOSE:
            break
    (code,) = struct.unpack("!H", payload[:2])
    assert code == CloseCode.POLICY_VIOLATION == 1008
    assert payload[2:].decode() == f"slow consumer: nothing read for {STALL_TIMEOUT:g} s"
    stalled.close()
    normal.close()


@pytest.mark.gen_test(timeout=30)
async def test_a_slow_reader_skips_ticks_and_stays_connected(http_server: object, http_port: int, hub: Hub) -> None:
    """A client reading at half the pace: the server coalesces, the client sees gaps in seq, and is not closed."""
    normal = await Client.connect(http_port, max_message_size=1 << 20)
    await normal.subscribe("wide")
    slow = await RawClient.connect(http_port, receive_buffer=4096)
    slow.send_json({"op": "subscribe", "feed": "wide"})
    received: list[int] = []
    normal_seqs: list[int] = []
    while not any(later - earlier > 1 for earlier, later in itertools.pairwise(received)):
        _, payload, _ = await slow.read_frame()
        message = orjson.loads(payload)
        if message["op"] == "data":
            received.append(message["seq"])
        # The normal client reads two ticks for each of the slow one's.
        normal_seqs += [tick.seq for tick in await normal.ticks(2)]
    assert hub.subscriber_count("wide") == 2
    assert normal_seqs == list(range(normal_seqs[0], normal_seqs[0] + len(normal_seqs)))
    # Only ticks are skipped, and seq still only rises.
    assert received == sorted(set(received))
    slow.close()
    normal.close()


def writer_of_normal(hub: Hub, normal: Client) -> object:
    """The server side of ``normal``: the subscriber whose socket's peer is the client's local address."""
    local = normal.connection.protocol.stream.socket.getsockname()  # type: ignore[union-attr]
    for subscriber in hub.subscribers("wide"):
        assert isinstance(subscriber, FrameWriter)
        if subscriber.stream.socket.getpeername() == local:
            return subscriber
    raise AssertionError("no server connection for the normal client")


@pytest.mark.gen_test(timeout=20)
async def test_connections_dying_in_the_middle_of_a_fan_out_do_not_break_it(
    http_server: object, http_port: int
) -> None:
    clients = [await Client.connect(http_port) for _ in range(30)]
    for client in clients:
        await client.subscribe("stocks", "binary")
    dying, living = clients[::2], clients[1::2]
    before = [(await client.ticks(1))[0].seq for client in living]
    for client in dying:
        # A reset, not a polite close: the server learns of it only when its next send fails.
        sock = client.connection.protocol.stream.socket  # type: ignore[union-attr]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.connection.protocol.stream.close()  # type: ignore[union-attr]
    for client, first in zip(living, before, strict=True):
        ticks = await client.ticks(20)
        assert [tick.seq for tick in ticks] == list(range(first + 1, first + 21))
    for client in clients:
        client.close()


def small_socketpair() -> tuple[socket.socket, socket.socket]:
    """A connected pair whose kernel buffers hold about 4 KB each way: a client that fills up fast."""
    server_side, client_side = socket.socketpair()
    for sock, option in ((server_side, socket.SO_SNDBUF), (client_side, socket.SO_RCVBUF)):
        sock.setsockopt(socket.SOL_SOCKET, option, 4096)
    server_side.setblocking(False)
    return server_side, client_side


@pytest.mark.gen_test
async def test_frames_queue_behind_a_pong_tornado_left_in_the_stream() -> None:
    """Tornado writes its pong to the stream itself: no frame of ours may overtake the part still waiting there."""
    server_side, client_side = small_socketpair()
    filled = 0
    while True:  # fill the kernel's buffers, so that the pong cannot leave yet
        try:
            filled += server_side.send(b"f" * 1024)
        except BlockingIOError:
            break
    stream = IOStream(server_side)
    writer = FrameWriter(stream, Settings(max_backlog_bytes=MAX_BACKLOG, stall_timeout=60), lambda code, reason: None)
    pong = bytes((0x80 | 0xA, 125)) + b"p" * 125  # a pong frame, as Tornado builds it
    stream.write(pong)  # what Tornado does on a client's ping, before it calls the handler's on_ping
    writer.stream_written()  # what FeedSocket.on_ping does
    client_side.setblocking(False)
    loop = asyncio.get_running_loop()
    received = b""
    while len(received) < filled:  # the client reads: the kernel has room again
        received += await loop.sock_recv(client_side, filled - len(received))
    tick = frame(b'{"op":"data"}', Opcode.TEXT)
    writer.send(tick, ("tick", "x"))
    expected = pong + tick
    received = b""
    while len(received) < len(expected):
        received += await loop.sock_recv(client_side, 65536)
    assert received == expected
    writer.close()
    stream.close()
    client_side.close()


class Kernel:
    """The socket's send buffer, as a byte budget: partial writes exactly where a test wants them. Tells `until`
    whenever it takes bytes."""

    def __init__(self) -> None:
        self.room = 0
        self.wire = bytearray()

    def send(self, data: bytes | memoryview) -> int:
        if not self.room:
            raise BlockingIOError
        taken = bytes(data[: self.room])
        self.wire += taken
        self.room -= len(taken)
        changed()
        return len(taken)


class Settling(FrameWriter):
    """A writer that counts, and tells `until`, each time it looks at the stream again after a write finished."""

    settled = 0

    def _settle(self) -> None:
        super()._settle()
        self.settled += 1
        changed()


def parse_frames(wire: bytes) -> list[tuple[int, bytes]]:
    """Unmasked server frames, strictly: a frame cut short or an unknown opcode fails."""
    frames, offset = [], 0
    while offset < len(wire):
        opcode, length = wire[offset] & 0x0F, wire[offset + 1] & 0x7F
        assert wire[offset] & 0xF0 == 0x80 and opcode in (0x1, 0x2, 0x8, 0x9, 0xA), wire[offset:]
        assert length < 126
        frames.append((opcode, bytes(wire[offset + 2 : offset + 2 + length])))
        assert offset + 2 + length <= len(wire), "a frame cut short"
        offset += 2 + length
    return frames


@pytest.mark.gen_test
async def test_frames_queue_behind_a_pong_tornado_had_put_off() -> None:
    """Tornado answers one ping at a time: a pong it put off is written later, from a callback, without on_ping."""
    server_side, client_side = socket.socketpair()
    stream = IOStream(server_side)
    kernel = Kernel()
    stream.write_to_fd = kernel.send  # type: ignore[method-assign]
    writer = Settling(stream, Settings(max_backlog_bytes=MAX_BACKLOG, stall_timeout=60), lambda code, reason: None)
    writer._send = kernel.send
    handler = types.SimpleNamespace(writer=writer, log_exception=lambda *args: None, ws_connection=None)
    handler.on_ping = lambda data: FeedSocket.on_ping(handler, data)  # type: ignore[arg-type]
    protocol = WebSocketProtocol13(handler, False, _WebSocketParams())  # type: ignore[arg-type]
    protocol.stream = stream
    first, second = frame(b'{"seq":1}', Opcode.TEXT), frame(b'{"seq":2}', Opcode.TEXT)
    writer.send(first, ("tick", "x"))  # the socket is full: it waits in the stream
    protocol._handle_message(0x9, b"A")  # a ping: its pong waits behind the tick
    protocol._handle_message(0x9, b"B")  # another while that pong is unsent: Tornado puts its pong off
    pong_a, pong_b = bytes((0x8A, 1)) + b"A", bytes((0x8A, 1)) + b"B"
    kernel.room = len(first) + len(pong_a) + 1  # room for the tick, pong A, and one byte of pong B
    stream._handle_write()
    # The writes' callbacks: Tornado sends pong B, which the kernel takes one byte of, and the writer looks at the
    # stream again.
    await until(lambda: len(kernel.wire) == len(first) + len(pong_a) + 1 and writer.settled == 1)
    kernel.room = 1 << 16
    writer.send(second, ("tick", "x"))
    stream._handle_write()  # what the loop does once the socket takes more
    await until(lambda: len(kernel.wire) == len(first) + len(pong_a) + len(pong_b) + len(second))
    assert parse_frames(kernel.wire) == [(0x1, b'{"seq":1}'), (0xA, b"A"), (0xA, b"B"), (0x1, b'{"seq":2}')]
    writer.close()
    stream.close()
    client_side.close()


@pytest.mark.gen_test
async def test_a_client_asking_faster_than_it_reads_is_closed_not_buffered() -> None:
    """Replies are never dropped, so past the backlog limit a client flooding requests counts as stalled."""
    server_side, client_side = socket.socketpair()
    client_side.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    stream = IOStream(server_side)
    stalls: list[str] = []
    writer = FrameWriter(
        stream, Settings(max_backlog_bytes=MAX_BACKLOG, stall_timeout=60), lambda code, reason: stalls.append(reason)
    )
    reply = frame(b'{"op":"pong","id":12345}', Opcode.TEXT)
    sent = 0
    while not stalls:
        writer.send(reply)
        sent += 1
        assert writer.backlog_bytes <= MAX_BACKLOG + len(reply)
    assert stalls == ["slow consumer: it sends requests faster than it reads the replies"]
    assert sent * len(reply) < 4 * MAX_BACKLOG + (1 << 20)  # kernel buffers, then the backlog limit
    writer.close()
    writer.send(reply)  # after close: dropped, no error
    assert writer.backlog_bytes == 0
    stream.close()
    client_side.close()


def held_history(count: int, padding: int = 200) -> History:
    """A history of ``count`` ticks whose JSON frames carry their seq and ``padding`` bytes."""
    history = History(count, 3600.0)
    for seq in range(1, count + 1):
        data = frame(f'{{"seq":{seq}}}'.encode() + b" " * padding, Opcode.TEXT)
        history.append(EncodedTick("x", 1, seq, 1000.0 + seq, data, data, ("v",)))
    return history


@pytest.mark.gen_test(timeout=20)
async def test_a_long_replay_reaches_a_slow_reader_whole_a_chunk_at_a_time() -> None:
    """Thousands of held ticks through a small backlog: none dropped, none repeated, never joined into one copy."""
    server_side, client_side = small_socketpair()
    stream = IOStream(server_side)
    writer = FrameWriter(stream, Settings(max_backlog_bytes=4096, stall_timeout=60), lambda code, reason: None)
    history = held_history(5000)
    held = [tick.json for tick in history.last(5000)]
    written: list[int] = []
    real_write = stream.write

    def counting_write(data: bytes | memoryview) -> Future[None]:
        written.append(len(data))
        return real_write(data)

    stream.write = counting_write  # type: ignore[method-assign]
    writer.send_replay(history.last(5000), Format.JSON)
    writer.send(frame(b'{"seq":"live"}', Opcode.TEXT), ("tick", "x"))  # a live tick after the replay
    expected = b"".join(held) + frame(b'{"seq":"live"}', Opcode.TEXT)
    client_side.setblocking(False)
    loop = asyncio.get_running_loop()
    received = bytearray()
    while len(received) < len(expected):
        received += await loop.sock_recv(client_side, 8192)
    assert bytes(received) == expected
    assert max(written) <= CHUNK_BYTES + len(held[0])  # written a chunk at a time
    writer.close()
    stream.close()
    client_side.close()


@pytest.mark.gen_test(timeout=20)
async def test_replays_piled_up_faster_than_they_are_read_close_the_connection() -> None:
    """A replay is never dropped, so a client may not ask for replays it does not read without end: the bytes of
    the replays and replies waiting for it are capped."""
    server_side, client_side = small_socketpair()
    stream = IOStream(server_side)
    closed: list[tuple[int, str]] = []

    def close(code: int, reason: str) -> None:  # what FeedSocket does: nothing more is written
        closed.append((code, reason))
        writer.close()

    history = held_history(100)  # 100 frames of about 210 bytes: 21 KB a replay
    settings = Settings(max_backlog_bytes=4096, stall_timeout=60, replay_budget=50_000)
    writer = FrameWriter(stream, settings, close)
    rounds = 0
    while not closed and rounds < 10:  # the client reads nothing: after the kernel's buffers, every replay waits
        writer.send_replay(history.last(100), Format.JSON)
        rounds += 1
    assert closed == [(1008, "slow consumer: it asks for replays faster than it reads them")]
    assert rounds == 4  # the first went to the kernel and the stream; two replays' worth waited, no more
    writer.close()
    stream.close()
    client_side.close()


@pytest.mark.gen_test(timeout=20)
async def test_many_small_replays_piled_up_close_the_connection() -> None:
    """However small, each waiting replay is an entry of the backlog: their number is capped too."""
    server_side, client_side = small_socketpair()
    stream = IOStream(server_side)
    closed: list[tuple[int, str]] = []

    def close(code: int, reason: str) -> None:
        closed.append((code, reason))
        writer.close()

    history = held_history(100, padding=4000)  # the first replay of one tick fills the kernel's buffers
    settings = Settings(max_backlog_bytes=4096, stall_timeout=60, max_subscriptions=5)
    writer = FrameWriter(stream, settings, close)
    rounds = 0
    while not closed and rounds < 100:
        writer.send_replay(history.last(1), Format.JSON)
        rounds += 1
    assert closed == [(1008, "slow consumer: it asks for replays faster than it reads them")]
    assert rounds <= 2 + settings.max_pending_replays
    writer.close()
    stream.close()
    client_side.close()
