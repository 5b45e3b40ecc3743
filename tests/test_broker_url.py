"""broker.url: the --broker URL read into its parts, with defaults, and refused in one line that never shows its
password."""

from __future__ import annotations

import re

import pytest

from broker.url import BrokerURL, parse_broker_url

PASSWORD = "Sw0rdf1sh"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://localhost", BrokerURL("redis", "localhost", 6379, 0)),
        ("redis://127.0.0.1:6380/2", BrokerURL("redis", "127.0.0.1", 6380, 2)),
        ("redis://Redis.Example.com/", BrokerURL("redis", "redis.example.com", 6379, 0)),
        (f"redis://:{PASSWORD}@10.0.0.5:7000/1", BrokerURL("redis", "10.0.0.5", 7000, 1, None, PASSWORD)),
        (
            f"rediss://alice:{PASSWORD}@redis.example.com",
            BrokerURL("rediss", "redis.example.com", 6379, 0, "alice", PASSWORD),
        ),
        ("redis://alice@h:1/0", BrokerURL("redis", "h", 1, 0, "alice", None)),
        ("redis://:p%40s%2Fs%3F@h", BrokerURL("redis", "h", 6379, 0, None, "p@s/s?")),
        ("redis://[::1]:6390/3", BrokerURL("redis", "::1", 6390, 3)),
        (" redis://h:6390/3 ", BrokerURL("redis", "h", 6390, 3)),
    ],
)
def test_a_url_is_read_into_its_parts_with_defaults(text: str, expected: BrokerURL) -> None:
    assert parse_broker_url(text) == expected


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        (BrokerURL("redis", "h", 6379, 0), "redis://h:6379/0"),
        (BrokerURL("rediss", "h", 6380, 1, None, PASSWORD), "rediss://:***@h:6380/1"),
        (BrokerURL("redis", "h", 6379, 0, "alice", PASSWORD), "redis://alice:***@h:6379/0"),
        (BrokerURL("redis", "h", 6379, 0, "alice", None), "redis://alice@h:6379/0"),
        (BrokerURL("redis", "::1", 6379, 0), "redis://[::1]:6379/0"),
    ],
)
def test_the_redacted_url_hides_the_password_and_reads_back_the_same(url: BrokerURL, redacted: str) -> None:
    assert url.redacted == str(url) == redacted
    assert PASSWORD not in repr(url)
    assert parse_broker_url(redacted.replace("***", PASSWORD)) == url


def test_the_connection_options_carry_everything_redis_py_needs() -> None:
    url = parse_broker_url(f"rediss://alice:{PASSWORD}@h:6380/2")
    assert url.tls
    assert url.connection_options() == {
        "host": "h",
        "port": 6380,
        "db": 2,
        "username": "alice",
        "password": PASSWORD,
        "ssl": True,
    }
    assert not parse_broker_url("redis://h").tls


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"http://:{PASSWORD}@h:6379/0", "expected redis://[[USERNAME]:PASSWORD@]HOST[:PORT][/DB], or rediss://"),
        (f"{PASSWORD}:x@h", "expected redis://"),
        (f"h:{PASSWORD}", "expected redis://"),
        (f"redis://:{PASSWORD}@", "no host: expected redis://"),
        (f"redis://:{PASSWORD}@:6379/0", "no host: expected redis://"),
        (f"redis://:{PASSWORD}@h:0/0", "expected a port from 1 to 65535 after the host"),
        (f"redis://:{PASSWORD}@h:65536", "expected a port from 1 to 65535 after the host"),
        (f"redis://alice:{PASSWORD}/x@h:6379/0", "expected a port from 1 to 65535 after the host"),
        (f"redis://:{PASSWORD}/x@h:6379/0", "no host"),
        (f"redis://:{PASSWORD}@h:6379/one", "expected a database number (0, 1, ...) after the host and port"),
        (f"redis://:{PASSWORD}@h:6379/0/1", "expected a database number"),
        (f"redis://:{PASSWORD}@h:6379/-1", "expected a database number"),
        (f"redis://:{PASSWORD}@h:6379/0?ssl=true", "the url takes no ?options or #fragment"),
        (f"redis://:{PASSWORD}?@h:6379/0", "the url takes no ?options or #fragment"),
        (f"redis://:{PASSWORD}#@h:6379/0", "the url takes no ?options or #fragment"),
        (f"redis://:{PASSWORD}@[::1:6379/0", "not a url: expected redis://"),
    ],
)
def test_a_bad_url_is_refused_in_one_lowercase_line_without_its_password(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)) as refused:
        parse_broker_url(text)
    shown = str(refused.value)
    assert PASSWORD not in shown
    assert PASSWORD.lower() not in shown.lower()
    assert "\n" not in shown
    assert shown[0].islower()
