"""A plugin's faults never stop, freeze or corrupt the server: each test runs a faulty feed beside a healthy one.

Every test watches the healthy ``stocks`` feed through a real WebSocket client while the fault happens, and asserts
that its ticks kept coming with consecutive seq and without a pause (the event loop was never blocked).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.ioloop import IOLoop

from feeds import Feed, Field
from feeds.hub import Hub
from feeds.status import MAX_ERROR_CHARS, FeedStatus, Health
from feeds.stocks import StocksFeed
from feeds.tick import Tick

from .wsclient import Client

HEALTHY_INTERVAL = 0.02
FAULTY_INTERVAL = 0.02
TIMEOUT = 0.3
# Far more than the healthy feed's interval, far less than a blocked loop would cause (at least TIMEOUT).
MAX_HEALTHY_PAUSE = 0.25
# How long a released blocking sample may still wait at most, so that no thread outlives the test run for long.
BLOCK_LIMIT = 30.0


class Raising(Feed):
    """Fails while ``failing`` is set."""

    name = "raising"
    interval = FAULTY_INTERVAL
    fields = (Field("x"),)

    def __init__(self) -> None:
        super().__init__()
        self.failing = threading.Event()
        self.n = 0

    def sample(self) -> dict[str, float]:
        self.n += 1
        if self.failing.is_set():
            raise RuntimeError(f"sensor offline at sample {self.n}")
        return {"x": self.n}


class Verbose(Raising):
    """Raises with a 1 MiB message while ``failing`` is set."""

    name = "verbose"

    def sample(self) -> dict[str, float]:
        if self.failing.is_set():
            raise RuntimeError("x" * 2**20)
        return {"x": 1.0}


GOOD = {"x": 1.0, "y": 2.0}
MALFORMED: list[object] = [
    [1.0, 2.0],
    {"x": "1", "y": 2.0},
    {"x": math.nan, "y": 2.0},
    {"x": math.inf, "y": 2.0},
    {"x": 1.0, "y": 2.0, "z": 3.0},
    {"x": 1.0},
    {"x": True, "y": 2.0},
    None,
]


class Malformed(Feed):
    """Good, then every malformed sample once, then good again."""

    name = "malformed"
    interval = FAULTY_INTERVAL
    fields = (Field("x"), Field("y"))

    def __init__(self) -> None:
        super().__init__()
        self.samples = iter([GOOD, *MALFORMED])

    def sample(self) -> object:
        return next(self.samples, GOOD)


class TooWide(Feed):
    """Declares no fields, and its first sample has too many to accept; then a sane one."""

    name = "too_wide"
    interval = FAULTY_INTERVAL

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def sample(self) -> dict[str, float]:
        self.calls += 1
        return {f"f{i}": float(i) for i in range(300)} if self.calls == 1 else {"a": 1.0}


class Blocking(Feed):
    """A sync sample whose first call blocks (like a hung network call) until the test releases it."""

    name = "blocking"
    interval = FAULTY_INTERVAL
    timeout = TIMEOUT
    fields = (Field("x"),)

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.calls = 0
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def sample(self) -> dict[str, float]:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            if self.calls == 1:
                self.release.wait(BLOCK_LIMIT)
            return {"x": float(self.calls)}
        finally:
            with self._lock:
                self.running -= 1


class Hanging(Feed):
    """An async sample whose first call never finishes on its own."""

    name = "hanging"
    interval = FAULTY_INTERVAL
    timeout = TIMEOUT
    fields = (Field("x"),)

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.cancelled = False

    async def sample(self) -> dict[str, float]:  # type: ignore[override]
        self.calls += 1
        if self.calls == 1:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        return {"x": float(self.calls)}


class Stubborn(Feed):
    """An async sample whose first call swallows its cancellation and waits on until the test releases it."""

    name = "stubborn"
    interval = FAULTY_INTERVAL
    timeout = TIMEOUT
    fields = (Field("x"),)

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.calls = 0
        self.cancelled = 0
        self.started = math.inf  # when the first call began (monotonic seconds)

    async def sample(self) -> dict[str, float]:  # type: ignore[override]
        self.calls += 1
        if self.calls == 1:
            self.started = time.monotonic()
            while not self.release.is_set():
                try:
                    await self.release.wait()
                except asyncio.CancelledError:
                    self.cancelled += 1  # and on it waits
        return {"x": float(self.calls)}


class FailingSetup(Feed):
    """``setup()`` fails three times, then works."""

    name = "failing_setup"
    interval = 0.05
    fields = (Field("x"),)

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[float] = []

    def setup(self) -> None:
        self.attempts.append(time.monotonic())
        if len(self.attempts) <= 3:
            raise ConnectionError(f"database unreachable (attempt {len(self.attempts)})")

    def sample(self) -> dict[str, float]:
        return {"x": 1.0}


FAULTY: dict[str, Callable[[], Feed]] = {
    "raising": Raising,
    "verbose": Verbose,
    "malformed": Malformed,
    "too_wide": TooWide,
    "blocking": Blocking,
    "hanging": Hanging,
    "stubborn": Stubborn,
    "failing_setup": FailingSetup,
}


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Feed:
    return FAULTY[request.param]()


@pytest.fixture
def hub(faulty: Feed) -> Iterator[Hub]:
    yield Hub([StocksFeed(interval=HEALTHY_INTERVAL, seed=1), faulty])
    if isinstance(faulty, Blocking):
        faulty.release.set()


@pytest.fixture
def watcher(http_server: object, http_port: int, io_loop: IOLoop) -> Iterator[Client]:
    async def connect() -> Client:
        client = await Client.connect(http_port)
        await client.subscribe("stocks", "binary")
        return client

    client = io_loop.run_sync(connect)
    yield client
    client.close()


class Watch:
    """Ticks seen by the healthy client, read until a condition holds."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.ticks: list[Tick] = []

    async def until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            tick, _ = await self.client.tick()
            self.ticks.append(tick)

    async def more(self, count: int) -> None:
        target = len(self.ticks) + count
        await self.until(lambda: len(self.ticks) >= target)

    def assert_healthy(self) -> None:
        """The stocks feed kept its schedule: consecutive seq, no pause."""
        stocks = [tick for tick in self.ticks if tick.feed == "stocks"]
        assert len(stocks) >= 10
        assert [tick.seq for tick in stocks] == list(range(stocks[0].seq, stocks[0].seq + len(stocks)))
        pauses = [later.ts - earlier.ts for earlier, later in itertools.pairwise(stocks)]
        assert max(pauses) < MAX_HEALTHY_PAUSE, max(pauses)


def statuses(client: Client, feed: str) -> list[str]:
    return [status["status"] for status in client.statuses if status["feed"] == feed]


async def api_feed(base_url: str, name: str) -> dict[str, Any]:
    response = await AsyncHTTPClient().fetch(base_url + "/api/feeds")
    return next(feed for feed in orjson.loads(response.body) if feed["name"] == name)


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("faulty", ["raising"], indirect=True)
async def test_a_raising_sample_is_skipped_reported_and_recovers(
    faulty: Raising, watcher: Client, hub: Hub, http_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    await watcher.subscribe("raising")
    watch = Watch(watcher)
    await watch.until(lambda: hub.status("raising").health.value == "ok")
    with caplog.at_level(logging.INFO, logger="dashboard.producer"):
        faulty.failing.set()
        await watch.until(lambda: statuses(watcher, "raising").count("failing") >= 3)
        during = await api_feed(f"http://127.0.0.1:{http_port}", "raising")
        faulty.failing.clear()
        await watch.until(lambda: statuses(watcher, "raising")[-1] == "ok")
        await watch.more(20)

    assert during["status"] == "failing"
    assert during["failures"] >= 3
    assert during["error"].startswith("RuntimeError: sensor offline at sample ")
    final = await api_feed(f"http://127.0.0.1:{http_port}", "raising")
    assert (final["status"], final["error"]) == ("ok", None)
    assert final["failures"] >= 3
    # The traceback once for the streak, then the recovery; not a line per failed tick.
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert any("recovered after" in record.getMessage() for record in caplog.records)
    # The feed kept its schedule and its subscribers saw consecutive seq across the failure.
    raising = [tick for tick in watch.ticks if tick.feed == "raising"]
    assert [tick.seq for tick in raising] == list(range(raising[0].seq, raising[0].seq + len(raising)))
    watch.assert_healthy()


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("faulty", ["verbose"], indirect=True)
async def test_an_error_of_1_mib_reaches_subscribers_and_the_api_in_a_few_hundred_bytes(
    faulty: Verbose, watcher: Client, hub: Hub, http_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    await watcher.subscribe("verbose")
    watch = Watch(watcher)
    await watch.until(lambda: hub.status("verbose").health.value == "ok")
    seen = len(watcher.statuses)
    with caplog.at_level(logging.ERROR, logger="dashboard.producer"):
        faulty.failing.set()
        await watch.until(lambda: hub.status("verbose").failures >= 10)
    # Before: a status of 1 MiB to each subscriber on every failure, and /api/feeds over 1 MiB.
    pushed = [status for status in watcher.statuses[seen:] if status["feed"] == "verbose"]
    assert sum(len(orjson.dumps(status)) for status in pushed) < 500
    api = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{http_port}/api/feeds")
    assert len(api.body) < 2000
    (status,) = pushed
    assert (status["status"], status["failures"]) == ("failing", 1)
    kept = len("RuntimeError: ")
    assert (
        status["error"]
        == f"RuntimeError: {'x' * (MAX_ERROR_CHARS - kept)}... ({2**20 + kept - MAX_ERROR_CHARS} more characters)"
    )
    # Whoever asks now is told the count as it is: a subscribe, and /api/feeds.
    other = await Client.connect(http_port)
    reply = await other.subscribe("verbose")
    other.close()
    assert (reply["status"], reply["error"]) == ("failing", status["error"])
    assert reply["failures"] >= 10
    assert next(feed for feed in orjson.loads(api.body) if feed["name"] == "verbose")["failures"] >= 10
    # The log has the feed's line once, cut as the status is (the server's handler cuts its traceback).
    assert [record.getMessage() for record in caplog.records] == [f"feed verbose: sample skipped: {status['error']}"]
    watch.assert_healthy()


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("faulty", ["malformed"], indirect=True)
async def test_malformed_samples_are_refused_and_never_reach_a_client(
    faulty: Malformed, watcher: Client, hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    await watcher.subscribe("malformed")
    watch = Watch(watcher)
    with caplog.at_level(logging.ERROR, logger="dashboard.producer"):
        await watch.until(lambda: hub.status("malformed").failures >= len(MALFORMED))
        await watch.until(lambda: hub.status("malformed").health.value == "ok")
        await watch.more(20)
    ticks = [tick for tick in watch.ticks if tick.feed == "malformed"]
    assert ticks
    assert all(dict(zip(tick.fields, tick.values, strict=True)) == GOOD for tick in ticks)
    assert [tick.seq for tick in ticks] == list(range(ticks[0].seq, ticks[0].seq + len(ticks)))
    assert hub.status("malformed").failures == len(MALFORMED)
    # Each refusal is reported with its reason in the status; the log has the first of the streak.
    assert "expected a mapping" in caplog.records[0].getMessage()
    watch.assert_healthy()


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("faulty", ["too_wide"], indirect=True)
async def test_too_many_fields_are_refused_and_the_fields_come_from_a_good_sample(
    faulty: TooWide, watcher: Client, hub: Hub, http_port: int
) -> None:
    watch = Watch(watcher)
    await watch.until(lambda: hub.status("too_wide").health.value == "ok")
    assert hub.status("too_wide").failures == 1
    assert [field.name for field in hub.fields("too_wide")] == ["a"]
    assert (await api_feed(f"http://127.0.0.1:{http_port}", "too_wide"))["fields"] == [{"name": "a", "unit": ""}]
    reply = await watcher.subscribe("too_wide")
    assert reply["fields"] == ["a"]
    await watch.more(20)
    watch.assert_healthy()


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("faulty", ["blocking"], indirect=True)
async def test_a_blocking_sync_sample_times_out_without_freezing_anything(
    faulty: Blocking, watcher: Client, hub: Hub
) -> None:
    await watcher.subscribe("blocking")
    watch = Watch(watcher)
    await watch.until(lambda: hub.status("blocking").failures >= 1)
    assert hub.status("blocking").error == f"sample() took longer than {TIMEOUT:g} s"
    # While the first sample holds the feed's thread, ticks come and go without starting another one.
    await watch.more(int(2 * TIMEOUT / HEALTHY_INTERVAL))
    assert faulty.calls == 1
    assert (await watcher.request({"op": "ping", "id": "during"}))["id"] == "during"
    faulty.release.set()
    await watch.until(lambda: hub.status("blocking").health.value == "ok")
    await watch.more(20)
    assert statuses(watcher, "blocking") == ["failing", "ok"]
    assert faulty.calls > 1
    assert faulty.most_running == 1
    watch.assert_healthy()


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("faulty", ["hanging"], indirect=True)
async def test_a_hanging_async_sample_is_cancelled_at_the_timeout(faulty: Hanging, watcher: Client, hub: Hub) -> None:
    await watcher.subscribe("hanging")
    watch = Watch(watcher)
    await watch.until(lambda: hub.status("hanging").health.value == "ok")
    await watch.more(20)
    assert faulty.cancelled
    failing, ok = watcher.statuses[-2:]
    assert failing == {
        "op": "status",
        "feed": "hanging",
        "status": "failing",
        "failures": 1,
        "error": f"sample() took longer than {TIMEOUT:g} s",
    }
    assert ok == {"op": "status", "feed": "hanging", "status": "ok", "failures": 1, "error": None}
    watch.assert_healthy()


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("faulty", ["stubborn"], indirect=True)
async def test_an_async_sample_that_ignores_its_cancellation_fails_at_its_timeout(
    faulty: Stubborn, watcher: Client, hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    await watcher.subscribe("stubborn")
    watch = Watch(watcher)
    with caplog.at_level(logging.ERROR, logger="dashboard.producer"):
        # Before, the timeout waited for the cancelled sample to end: the feed stayed "starting" for good.
        await asyncio.wait_for(watch.until(lambda: hub.status("stubborn").failures >= 1), 10 * TIMEOUT)
        assert time.monotonic() - faulty.started < TIMEOUT + MAX_HEALTHY_PAUSE
        # The sample it abandoned still runs: no other starts meanwhile, and the failure is logged once.
        await watch.more(int(2 * TIMEOUT / HEALTHY_INTERVAL))
    assert (faulty.calls, faulty.cancelled) == (1, 1)
    assert hub.status("stubborn") == FeedStatus(
        "stubborn", Health.FAILING, 1, f"sample() took longer than {TIMEOUT:g} s"
    )
    assert [record.getMessage() for record in caplog.records] == [
        f"feed stubborn: sample skipped: sample() took longer than {TIMEOUT:g} s"
    ]
    faulty.release.set()
    await watch.until(lambda: hub.status("stubborn").health.value == "ok")
    await watch.more(20)
    assert statuses(watcher, "stubborn") == ["failing", "ok"]
    watch.assert_healthy()


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("faulty", ["failing_setup"], indirect=True)
async def test_a_failing_setup_is_retried_with_a_growing_delay(faulty: FailingSetup, watcher: Client, hub: Hub) -> None:
    watch = Watch(watcher)
    await watch.until(lambda: hub.status("failing_setup").failures >= 1)
    assert hub.status("failing_setup").error == "setup() failed: ConnectionError: database unreachable (attempt 1)"
    await watch.until(lambda: hub.status("failing_setup").health.value == "ok")
    await watch.more(20)
    assert len(faulty.attempts) == 4
    delays = [later - earlier for earlier, later in itertools.pairwise(faulty.attempts)]
    # Retried after 1, 2 and 4 intervals, never hammering: a retry goes at the first beat at most half an interval
    # before it is due (the producer's slack), so each wait is at least the doubled delay less that half.
    slack = FailingSetup.interval / 2
    for delay, minimum in zip(delays, (0.05, 0.1, 0.2), strict=True):
        assert delay >= minimum - slack, delays
    assert hub.status("failing_setup").failures == 3
    watch.assert_healthy()
