"""The event loop's watchdog: it notices the loop blocked, and asks who blocked it while it still is.

An ``async def sample()`` runs on the event loop; one that calls something blocking (``time.sleep``, ``requests``)
holds up every client and every other feed for as long as it blocks, and no timeout can interrupt it. `LoopWatchdog`
notices: the loop stamps the time every ``heartbeat`` seconds (one timer callback, nothing per tick or per client),
and a thread of the watchdog's own looks at the stamp as often. Once the stamp is ``blocked_after`` seconds old, the
loop is blocked: the thread hands its ``blocked`` callback the task running on the loop and when the loop was last
seen free, once per block. The callback runs in the watchdog's thread while the loop is blocked, so it may only
note things down; `feeds.producer.Producer.loop_blocked` notes which feed's sample that task is, and the feed fails
that sample when the loop is back. A block by anything else (the collector, a slow callback) is no feed's fault and
is not reported here.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["BLOCKED_AFTER", "HEARTBEAT", "LoopWatchdog"]

# Seconds between the loop's stamps, and between the thread's looks at them.
HEARTBEAT = 0.1
# The loop is blocked once its stamp is this many seconds old: far longer than any callback of ours takes, far
# shorter than the seconds a blocking call in a sample takes.
BLOCKED_AFTER = 0.5


class LoopWatchdog:
    """Calls ``blocked(task, since)`` from its own thread when the running event loop has not run its heartbeat for
    ``blocked_after`` seconds: ``task`` is the task on the loop then (None when it runs a plain callback), ``since``
    the `time.monotonic` seconds when the loop was last seen free."""

    def __init__(
        self,
        blocked: Callable[[asyncio.Task[Any] | None, float], object],
        *,
        heartbeat: float = HEARTBEAT,
        blocked_after: float = BLOCKED_AFTER,
    ) -> None:
        self._blocked = blocked
        self._heartbeat = heartbeat
        self._blocked_after = blocked_after
        self._stamp = time.monotonic()
        self._stopped = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Watch the running event loop, until `stop`."""
        self._loop = asyncio.get_running_loop()
        self._beat()
        threading.Thread(target=self._watch, args=(self._loop,), name="loop-watchdog", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        if self._timer is not None:
            self._timer.cancel()

    def _beat(self) -> None:
        assert self._loop is not None
        self._stamp = time.monotonic()
        self._timer = self._loop.call_later(self._heartbeat, self._beat)

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        reported = None  # the stamp of the block reported last: one report per block
        while not self._stopped.wait(self._heartbeat):
            stamp = self._stamp
            if stamp != reported and time.monotonic() - stamp >= self._blocked_after:
                reported = stamp
                # Which task the loop is running: a dict lookup, safe from another thread.
                self._blocked(asyncio.current_task(loop), stamp)
