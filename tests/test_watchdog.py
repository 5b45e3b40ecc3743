"""feeds.watchdog with the producer, on a real event loop: an async sample that blocks the loop is named and fails.

The feed here does what a careless plugin does, ``time.sleep`` inside ``async def sample()``: that is the point of the
test, not a wait of the test's own. The test waits for the statuses it expects (tests/waiting.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import pytest

from feeds import Feed, Field
from feeds.producer import Producer
from feeds.status import FeedStatus, Health
from feeds.tick import Tick
from feeds.watchdog import LoopWatchdog

from .waiting import changed, until

BLOCK_SECONDS = 0.6
HEARTBEAT = 0.05
BLOCKED_AFTER = 0.2


class Collector:
    """A publisher that keeps what it is given and tells `until` about it."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.statuses: list[FeedStatus] = []

    def publish(self, events: Sequence[Tick | FeedStatus]) -> None:
        self.ticks.extend(event for event in events if isinstance(event, Tick))
        self.statuses.extend(event for event in events if isinstance(event, FeedStatus))
        changed()


class Blocking(Feed):
    """The mistake the watchdog is for: a blocking call in an async sample."""

    name = "blocking"
    interval = 0.1
    timeout = 5.0
    fields = (Field("n"),)

    async def sample(self) -> dict[str, float]:
        time.sleep(BLOCK_SECONDS)
        return {"n": 1.0}


class Sleepy(Feed):
    """The same call in a plain sample, which runs in the feed's thread: the loop is free meanwhile."""

    name = "sleepy"
    interval = 0.1
    timeout = 5.0
    fields = (Field("n"),)

    def sample(self) -> dict[str, float]:
        time.sleep(BLOCK_SECONDS)
        return {"n": 1.0}


@pytest.mark.gen_test(timeout=20)
async def test_an_async_sample_that_blocks_the_loop_fails_named_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    collector = Collector()
    producer = Producer([Blocking(), Sleepy()], collector)
    watchdog = LoopWatchdog(producer.loop_blocked, heartbeat=HEARTBEAT, blocked_after=BLOCKED_AFTER)
    watchdog.start()
    with caplog.at_level(logging.INFO, logger="dashboard.producer"):
        producer.start()
        await until(lambda: producer.runners["blocking"].status.failures >= 2)
        await until(lambda: any(tick.feed == "sleepy" for tick in collector.ticks))
    watchdog.stop()
    await producer.stop()
    failing = [status for status in collector.statuses if status.feed == "blocking"]
    assert failing[0].health is Health.FAILING
    reason = failing[0].error or ""
    assert reason.startswith("sample() blocked the event loop for "), reason
    assert f"(at test_watchdog.py:{Blocking.sample.__code__.co_firstlineno + 1})" in reason
    assert "asyncio.to_thread()" in reason and "plain def" in reason
    assert float(reason.split(" for ")[1].split(" s")[0]) >= BLOCK_SECONDS - HEARTBEAT
    assert not any(tick.feed == "blocking" for tick in collector.ticks)  # what a blocking sample returned is dropped
    # A plain sample that sleeps as long blocks nothing: it is never blamed.
    assert producer.runners["sleepy"].status.health is Health.OK
    # Twice failed, logged once: the budget every failure of a feed has (FailureLog).
    lines = [record.getMessage() for record in caplog.records if "blocking" in record.getMessage()]
    assert lines == [f"feed blocking: sample skipped: {reason}"]
