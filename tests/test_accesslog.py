"""handlers.security.accesslog: tokens never reach the log, and no client can flood it."""

from __future__ import annotations

import io
import logging

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from handlers.security.accesslog import MAX_LINE_CHARS, MAX_TRACEBACK_CHARS, AccessLog, LogBudget, redact

from .fakeclock import FakeClock


@pytest.mark.parametrize(
    ("uri", "logged"),
    [
        ("/ws?token=eyJ.abc.def", "/ws?token=[redacted]"),
        ("/api/feeds?x=1&token=secret&y=2", "/api/feeds?x=1&token=[redacted]&y=2"),
        ("/?access_token=s#top", "/?access_token=[redacted]#top"),
        ("/static/token=not-a-query", "/static/token=not-a-query"),
        ("/ws?%74oken=eyJ.abc.def", "/ws?%74oken=[redacted]"),  # a name encoded is still the name
        ("/ws?TOKEN=x&x=y", "/ws?TOKEN=[redacted]&x=y"),
    ],
)
def test_credentials_in_a_query_are_redacted(uri: str, logged: str) -> None:
    assert redact(uri) == logged


def test_each_client_has_a_budget_of_lines_and_what_is_held_back_is_counted(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    budget = AccessLog(rate=2.0, burst=3, clock=clock.time)
    assert [budget.allow("10.0.0.1") for _ in range(5)] == [True, True, True, False, False]
    assert budget.allow("10.0.0.2")  # another client has its own budget
    clock.advance(0.5)  # one line's worth
    with caplog.at_level(logging.WARNING, logger="tornado.access"):
        assert budget.allow("10.0.0.1")
        assert not budget.allow("10.0.0.1")
    assert [record.getMessage() for record in caplog.records] == [
        "2 lines about 10.0.0.1 were not logged (more than 2 a second)"
    ]


def test_an_ipv6_client_has_one_budget_for_its_whole_64(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    budget = AccessLog(rate=1.0, burst=2, clock=clock.time)
    assert [budget.allow(f"2001:db8:1:2::{host}") for host in range(1, 5)] == [True, True, False, False]
    assert budget.allow("2001:db8:1:3::1")  # the next /64 is another client
    clock.advance(1.0)
    with caplog.at_level(logging.WARNING, logger="tornado.access"):
        assert budget.allow("2001:db8:1:2::99")
    assert [record.getMessage() for record in caplog.records] == [
        "2 lines about 2001:db8:1:2::/64 were not logged (more than 1 a second)"
    ]


def test_the_budgets_are_bounded_whatever_the_number_of_clients() -> None:
    budget = AccessLog(burst=1, max_clients=100)
    for client in range(1000):
        budget.allow(f"10.0.{client // 256}.{client % 256}")
    assert len(budget._budgets) == 100


@pytest.mark.gen_test
async def test_a_token_in_the_query_never_reaches_the_log(
    http_server: object, http_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await AsyncHTTPClient().fetch(f"http://127.0.0.1:{http_port}/api/feeds?token=SECRET-TOKEN")
        with pytest.raises(HTTPClientError):
            await AsyncHTTPClient().fetch(f"http://127.0.0.1:{http_port}/ws?token=SECRET-TOKEN")
    assert caplog.records
    assert not [record for record in caplog.records if "SECRET-TOKEN" in record.getMessage()]
    assert any("/api/feeds?token=[redacted]" in record.getMessage() for record in caplog.records)


@pytest.mark.gen_test(timeout=30)
async def test_a_client_looping_on_a_refused_request_writes_a_bounded_number_of_lines(
    http_server: object, http_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    client = AsyncHTTPClient()
    with caplog.at_level(logging.DEBUG):
        for _ in range(300):
            with pytest.raises(HTTPClientError):
                await client.fetch(f"http://127.0.0.1:{http_port}/static/%00")
    lines = [record for record in caplog.records if record.name.startswith("tornado")]
    # The burst, and whatever a few lines a second add while the loop runs: far from one line per request.
    assert 20 <= len(lines) < 100


def record(message: str, *args: object, name: str = "tornado.general") -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, None)


def test_every_kind_of_line_has_a_budget_and_long_lines_are_cut() -> None:
    clock = FakeClock()
    budget = LogBudget(rate=1.0, burst=2, max_chars=50, clock=clock.time)
    kept = [budget.filter(record("Malformed HTTP message from %s: %s", "10.0.0.1", "x" * n)) for n in range(5)]
    assert kept == [True, True, False, False, False]
    assert budget.filter(record("another kind of line"))
    assert budget.filter(record("x", name="tornado.access"))  # access lines have their own budget, per client
    clock.advance(1.0)
    line = record("Malformed HTTP message from %s: %s", "10.0.0.1", "y" * 100)
    assert budget.filter(line)
    assert line.getMessage() == (
        "Malformed HTTP message from 10.0.0.1: yyyyyyyyyyyy... (88 more characters) "
        "(3 more lines like this were not logged)"
    )


def test_a_traceback_of_any_size_is_cut_keeping_its_start_and_end() -> None:
    """A plugin raising with a 1 MiB message: the traceback's last line repeats the message, and is cut too."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))  # as server.py's
    handler.addFilter(LogBudget())
    logger = logging.getLogger("dashboard.test_accesslog")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("x" * 2**20)
        except RuntimeError as exc:
            logger.error("feed hostile: %s", exc, exc_info=exc)
    finally:
        logger.removeHandler(handler)
    text = output.getvalue()
    assert len(text) < MAX_LINE_CHARS + MAX_TRACEBACK_CHARS + 200
    lines = text.splitlines()
    assert lines[0].startswith("ERROR dashboard.test_accesslog: feed hostile: xxx")
    assert lines[0].endswith(f"... ({len('feed hostile: ') + 2**20 - MAX_LINE_CHARS} more characters)")
    assert lines[1] == "Traceback (most recent call last):"
    assert any(line.startswith("RuntimeError: xxx") for line in lines)
    assert any(line.endswith(" characters cut) ...") for line in lines)
