"""Writing pre-built frames to one WebSocket connection: one ``send`` when the way is clear, bounded when it is not.

The fast path: when nothing is waiting to be written on the connection, a frame goes straight to the socket with one
``socket.send``; only a part the kernel did not take is handed to Tornado's `IOStream`, which writes it when the
socket becomes writable. This skips ``write_message``'s per-client Future, Task and copies.

The slow path: while the stream still has data to write, new frames wait in a backlog of at most
``max_backlog_bytes``. Past that, the backlog keeps only the newest frame of each key (a feed's ticks share a key),
so a slow client skips ticks, and learns of the gap from ``seq``, instead of making the server hold them. A frame
without a key (a reply) is never dropped, nor is a replay of held ticks (`send_replay`): the backlog holds a cursor
into the feed's history, not its frames, and reads them from the history a chunk at a time as the socket takes
them. A connection whose backlog has not drained for ``stall_timeout`` seconds is reported as stalled, and its
owner closes it; so is one whose waiting replies alone pass ``max_backlog_bytes``, or whose waiting replies and
replays together pass ``max_pending_bytes``, or that has more than ``max_pending_replays`` replays waiting.

Frames never interleave on the wire: the writer hands every partly sent frame's rest to the stream at once, and
sends nothing directly until the stream has written all it holds. After the handshake Tornado writes to the stream
on its own only a pong (answering a client's ping) and a Close frame. The connection calls `stream_written` after
each pong, and the writer queues behind it while any of it waits in the stream; Tornado writes a pong it had put
off from a callback of the write before it, and the writer looks at the stream again only once those callbacks
have run. After a Close frame the writer is closed (or the stream is). Tracking this rather than asking
``IOStream.writing()`` for every frame keeps the fan-out's loop off the stream's objects (what that saves is in
docs/performance.md, "What the fast path does").
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence

from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, SSLIOStream, StreamClosedError

from feeds.codec import Format
from feeds.history import Replay
from handlers.protocol.codes import CloseCode
from handlers.settings import Settings

__all__ = ["FrameWriter"]

log = logging.getLogger("dashboard.writer")

# How much of the backlog the writer hands the stream at once: a replay of thousands of held ticks is written a
# chunk at a time, as the socket takes it, instead of joined into one copy of it all.
CHUNK_BYTES = 64 * 1024
# The backlog's key of a replay waiting to be written.
REPLAY = ("replay",)


class PendingReplay:
    """A replay waiting in a backlog, and the format its frames go out in."""

    __slots__ = ("fmt", "replay")

    def __init__(self, replay: Replay, fmt: Format) -> None:
        self.replay = replay
        self.fmt = fmt

    def __len__(self) -> int:
        """The bytes left to send (the backlog's entries are measured with len)."""
        return self.replay.size(self.fmt)


class FrameWriter:
    """The frames bound for one connection: the hub's `Subscriber` for it."""

    __slots__ = (
        "_backlog",
        "_backlog_bytes",
        "_close_connection",
        "_closed",
        "_drain_started",
        "_draining",
        "_replays",
        "_reply_bytes",
        "_send",
        "_settings",
        "_socket",
        "_stall_check",
        "_stream",
        "coalesced",
    )

    def __init__(self, stream: IOStream, settings: Settings, close: Callable[[CloseCode, str], None]) -> None:
        """``close(code, reason)`` ends the connection: the writer calls it for a stalled client and after a failed
        send (`fail`)."""
        self._stream = stream
        # TLS needs the stream's own writes; a plain socket takes the direct path.
        self._socket = None if isinstance(stream, SSLIOStream) else stream.socket
        self._send = None if self._socket is None else self._socket.send
        self._settings = settings
        self._close_connection = close
        # Built on the slow path only: an idle or keeping-up connection needs none.
        self._backlog: deque[tuple[Hashable | None, bytes | PendingReplay]] | None = None
        self._backlog_bytes = 0  # frames that coalescing may drop, and replies
        self._reply_bytes = 0  # the part of the backlog that coalescing cannot drop
        self._replays = 0  # replays waiting in the backlog
        self._closed = False
        self._draining = False
        self._drain_started = 0.0
        self._stall_check: object | None = None
        self.coalesced = 0
        self.stream_written()  # the handshake's response may not all be out yet

    def stream_written(self) -> None:
        """Tornado wrote to the stream on its own (a pong): queue frames behind whatever of it is still there."""
        if not self._closed and not self._draining and self._stream.writing():
            self._drain(b"")

    @property
    def stream(self) -> IOStream:
        """The Tornado stream this writer shares with its connection."""
        return self._stream

    @property
    def backlog_bytes(self) -> int:
        """Bytes waiting in the backlog, not counting what the stream already holds."""
        return self._backlog_bytes

    def close(self) -> None:
        """Send nothing more: the connection is closing, and no frame may follow its Close frame."""
        self._closed = True
        self._backlog = None
        self._backlog_bytes = self._reply_bytes = self._replays = 0
        if self._stall_check is not None:
            IOLoop.current().remove_timeout(self._stall_check)
            self._stall_check = None

    def fail(self) -> None:
        """A send raised (the hub says so): end the connection rather than leave it subscribed to nothing."""
        self._close_connection(CloseCode.INTERNAL_ERROR, "internal error")

    def close_connection(self, code: CloseCode, reason: str) -> None:
        """End the connection with ``code`` (the session's verdict on a client that breaks a limit)."""
        self._close_connection(code, reason)

    def _stalled(self, reason: str) -> None:
        self._close_connection(CloseCode.POLICY_VIOLATION, f"slow consumer: {reason}")

    def send(self, frame: bytes, key: Hashable | None = None) -> None:
        """Send ``frame`` now if the way is clear, else queue it; ``key`` marks frames that newer ones may replace."""
        if self._closed:
            return
        if self._draining or self._send is None:
            self._enqueue(frame, key)
            return
        try:
            sent = self._send(frame)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            # The peer is gone (or the stream already closed its socket): closing the stream runs the handler's
            # on_close, which unsubscribes it; closing twice is harmless.
            self._stream.close()
            return
        if sent < len(frame):
            self._drain(memoryview(frame)[sent:])

    def send_many(self, frames: Sequence[tuple[bytes, Hashable | None]]) -> None:
        """Several frames in order: one ``send`` of them all when the way is clear, else each queued."""
        if self._closed:
            return
        if not self._draining and self._send is not None and sum(len(frame) for frame, _ in frames) <= CHUNK_BYTES:
            self.send(b"".join(frame for frame, _ in frames))
            return
        for frame, key in frames:
            self._enqueue(frame, key, drain=False)
        if not self._draining and self._backlog:
            self._drain_backlog()

    def send_replay(self, replay: Replay, fmt: Format) -> None:
        """Queue ``replay`` (a cursor into a feed's history) behind what is queued; its frames are read from the
        history ``CHUNK_BYTES`` at a time as the socket takes them."""
        if self._closed or self._stream.closed() or not replay:
            return
        if self._backlog is None:
            self._backlog = deque()
        self._backlog.append((REPLAY, PendingReplay(replay, fmt)))
        self._replays += 1
        settings = self._settings
        # Never dropped, and their frames are the history's: what a client may pile up unread is bounded by their
        # number and by their bytes, with the replies', all waiting at once.
        if (
            self._replays > settings.max_pending_replays
            or self._reply_bytes + self._pending_replay_bytes() > settings.max_pending_bytes
        ):
            self._stalled("it asks for replays faster than it reads them")
            return
        if not self._draining:
            self._drain_backlog()

    def _pending_replay_bytes(self) -> int:
        assert self._backlog is not None
        return sum(len(item) for key, item in self._backlog if key is REPLAY)

    def _enqueue(self, frame: bytes, key: Hashable | None, drain: bool = True) -> None:
        if self._closed or self._stream.closed():
            return
        if self._backlog is None:
            self._backlog = deque()
        self._backlog.append((key, frame))
        self._backlog_bytes += len(frame)
        if key is None:
            self._reply_bytes += len(frame)
            if self._reply_bytes > self._settings.max_backlog_bytes:
                # Replies are never dropped: a client that asks faster than it reads is a stalled client.
                self._stalled("it sends requests faster than it reads the replies")
                return
        elif self._backlog_bytes > self._settings.max_backlog_bytes:
            self._coalesce()
        if drain and not self._draining:
            self._drain_backlog()

    def _coalesce(self) -> None:
        """Keep every reply and replay, and only the newest frame of each other key, in their order."""
        assert self._backlog is not None
        newest: dict[Hashable, int] = {}
        for index, (key, _) in enumerate(self._backlog):
            if key is not None and key is not REPLAY:
                newest[key] = index
        kept = deque(
            item
            for index, item in enumerate(self._backlog)
            if item[0] is None or item[0] is REPLAY or newest[item[0]] == index
        )
        self.coalesced += len(self._backlog) - len(kept)
        self._backlog = kept
        self._backlog_bytes = sum(len(frame) for key, frame in kept if key is not REPLAY)

    def _drain_backlog(self) -> None:
        """Hand the stream the oldest ``CHUNK_BYTES`` or so of the backlog (at least one frame)."""
        backlog = self._backlog
        assert backlog is not None
        chunk: list[bytes] = []
        size = 0
        while backlog and size < CHUNK_BYTES:
            key, item = backlog[0]
            if isinstance(item, PendingReplay):
                frames = item.replay.take(item.fmt, max(1, CHUNK_BYTES - size))
                if frames:
                    chunk.extend(frames)
                    size += sum(map(len, frames))
                if not item.replay:
                    backlog.popleft()
                    self._replays -= 1
                continue
            if chunk and size + len(item) > CHUNK_BYTES:
                break
            backlog.popleft()
            chunk.append(item)
            size += len(item)
            self._backlog_bytes -= len(item)
            if key is None:
                self._reply_bytes -= len(item)
        if not backlog:
            self._backlog = None
        if chunk:
            self._drain(chunk[0] if len(chunk) == 1 else b"".join(chunk))
        elif not self._draining:
            return  # replays whose ticks the history let go of: nothing to write
        else:
            self._drain(b"")

    def _drain(self, data: bytes | memoryview) -> None:
        """Hand ``data`` to the stream and come back for the backlog when the stream has written it all."""
        try:
            future = self._stream.write(data)
        except StreamClosedError:
            return
        if not self._draining:
            self._draining = True
            self._drain_started = time.monotonic()
            self._schedule_stall_check()
        future.add_done_callback(self._drained)

    def _drained(self, future: object) -> None:
        self._drain_started = time.monotonic()
        # Other callbacks of the writes that finished with ours run first and may write more: Tornado sends a pong
        # it had put off (it answers only one ping at a time) from such a callback, without calling on_ping.
        IOLoop.current().add_callback(self._settle)

    def _settle(self) -> None:
        if self._closed or self._stream.closed():
            self._draining = False
            return
        if self._backlog:
            self._drain_backlog()
        elif self._stream.writing():
            # Tornado wrote something of its own (a pong) after our data: an empty write resolves once all is out.
            self._drain(b"")
        else:
            self._draining = False

    def _schedule_stall_check(self) -> None:
        if self._stall_check is None:
            self._stall_check = IOLoop.current().call_later(self._settings.stall_timeout, self._check_stall)

    def _check_stall(self) -> None:
        self._stall_check = None
        if not self._draining or self._stream.closed():
            return
        stalled_for = time.monotonic() - self._drain_started
        if stalled_for >= self._settings.stall_timeout:
            self._stalled(f"nothing read for {self._settings.stall_timeout:g} s")
        else:
            left = self._settings.stall_timeout - stalled_for
            self._stall_check = IOLoop.current().call_later(left, self._check_stall)
