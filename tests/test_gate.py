"""handlers.transport.gate: each client's requests have a rate, bounded in memory; the health check has its own."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tornado.httputil import HTTPServerConnectionDelegate, RequestStartLine

from handlers.settings import Settings
from handlers.transport.gate import MAX_RATED_CLIENTS, RequestGate

from .fakeclock import FakeClock

FEEDS = RequestStartLine("GET", "/api/feeds", "HTTP/1.1")
HEALTH = RequestStartLine("GET", "/healthz?probe=1", "HTTP/1.1")


def gate(clock: FakeClock, rate: float = 1.0, burst: int = 2) -> RequestGate:
    settings = Settings(max_http_rate=rate, max_http_burst=burst)
    return RequestGate(HTTPServerConnectionDelegate(), lambda _: None, settings, ("/healthz",), clock=clock.time)


def from_(address: str) -> Any:
    """A request's connection as the gate sees it: its context names the client's address."""
    return SimpleNamespace(context=SimpleNamespace(remote_ip=address))


def test_a_client_has_its_burst_then_its_rate_and_its_health_checks_a_budget_of_their_own() -> None:
    clock = FakeClock()
    requests = gate(clock)
    assert [requests.admits(from_("192.0.2.1"), FEEDS) for _ in range(3)] == [True, True, False]
    assert requests.admits(from_("192.0.2.2"), FEEDS)  # another client
    assert [requests.admits(from_("192.0.2.1"), HEALTH) for _ in range(3)] == [True, True, False]
    clock.advance(1.0)
    assert [requests.admits(from_("192.0.2.1"), FEEDS) for _ in range(2)] == [True, False]


def test_an_ipv6_client_has_one_budget_for_its_whole_64() -> None:
    requests = gate(FakeClock())
    assert [requests.admits(from_(f"2001:db8:1:2::{host}"), FEEDS) for host in range(1, 4)] == [True, True, False]
    assert requests.admits(from_("2001:db8:1:3::1"), FEEDS)


def test_the_buckets_are_bounded_and_the_least_recent_client_is_forgotten_first() -> None:
    requests = gate(FakeClock(), burst=1)
    assert requests.admits(from_("192.0.2.1"), FEEDS)
    assert not requests.admits(from_("192.0.2.1"), FEEDS)
    for client in range(MAX_RATED_CLIENTS):
        requests.admits(from_(f"10.{client >> 16}.{(client >> 8) & 255}.{client & 255}"), FEEDS)
    assert requests.admits(from_("192.0.2.1"), FEEDS)  # forgotten: it starts again full


def test_no_rate_admits_everything() -> None:
    requests = gate(FakeClock(), rate=0.0)
    assert all(requests.admits(from_("192.0.2.1"), FEEDS) for _ in range(1000))
