"""Waiting in a test for something to happen, woken by whatever makes it happen: no polling, no counting loop turns.

The test doubles that see what a test may wait for call `changed()` when it happens (the app's registry of
connections as one opens or closes, a producer's publisher and its end of each tick, a fake socket taking bytes);
`until(condition)` checks its condition then, and only then. A change that nothing reports is never seen: the wait
fails at its deadline, naming the condition, rather than spinning.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable

__all__ = ["UNTIL_TIMEOUT", "changed", "until"]

# Seconds `until` waits by default: far longer than anything a test waits for takes, as long as a whole test gets
# by default from pytest-tornado.
UNTIL_TIMEOUT = 5.0

# The waits in progress: each a future of the loop its test runs on (every test has a loop of its own).
_waiting: set[asyncio.Future[None]] = set()


def changed() -> None:
    """Something a test may be waiting for has happened (on the event loop's thread): every `until` looks again."""
    for waiter in _waiting:
        if not waiter.done():
            waiter.set_result(None)


async def until(condition: Callable[[], bool], timeout: float = UNTIL_TIMEOUT) -> None:
    """Return once ``condition()`` holds: checked now and after each `changed()`; fails the test after ``timeout``
    seconds without it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        waiter: asyncio.Future[None] = loop.create_future()
        _waiting.add(waiter)
        try:
            await asyncio.wait_for(waiter, max(deadline - loop.time(), 0.0))
        except asyncio.TimeoutError:
            if condition():
                return
            raise AssertionError(
                f"still false after {timeout:g} s, checked at each changed(): {source(condition)}"
            ) from None
        finally:
            _waiting.discard(waiter)


def source(condition: Callable[[], bool]) -> str:
    """Where ``condition`` is written (a lambda's whole line), to say which wait failed."""
    try:
        return " ".join(inspect.getsource(condition).split())
    except (OSError, TypeError):
        return repr(condition)
