"""feeds.feed: declaring options and fields, and configuring a feed from command-line text."""

from __future__ import annotations

import pytest

from feeds import Feed, Field, Option, OptionError, feed
from feeds.feed import MAX_NODE_NAME, host_feed_name
from feeds.stocks import StocksFeed
from feeds.system import SystemFeed


class Weather(Feed):
    name = "weather"
    interval = 2.0
    fields = (Field("temp_c", "°C"),)
    city = Option("Oslo", "where to read the weather")
    offset = Option(0.5)
    retries = Option(3)
    metric = Option(True)
    stations = Option(("a", "b"))

    def sample(self) -> dict[str, float]:
        return {"temp_c": 21.5}


def test_defaults_apply_when_nothing_is_set() -> None:
    feed = Weather()
    assert (feed.interval, feed.city, feed.retries, feed.metric, feed.stations) == (2.0, "Oslo", 3, True, ("a", "b"))


def test_text_options_are_parsed_by_the_default_type() -> None:
    feed = Weather.from_text_options(
        {"interval": "0.5", "city": "Bergen", "offset": "-2", "retries": "-5", "metric": "no", "stations": "x, y ,z"}
    )
    assert (feed.interval, feed.city, feed.offset, feed.retries, feed.metric, feed.stations) == (
        0.5,
        "Bergen",
        -2.0,
        -5,
        False,
        ("x", "y", "z"),
    )


def test_options_are_per_instance() -> None:
    Weather(city="Bergen")
    assert Weather().city == "Oslo"


def test_every_feed_has_the_interval_timeout_and_roles_options() -> None:
    assert set(Weather.options()) == {
        "interval",
        "timeout",
        "roles",
        "city",
        "offset",
        "retries",
        "metric",
        "stations",
    }


def test_unknown_option_names_it_and_lists_the_known_ones() -> None:
    with pytest.raises(OptionError, match=r"^unknown option weather\.town \(known: city, interval, metric, offset"):
        Weather.from_text_options({"town": "Oslo"})


@pytest.mark.parametrize(
    ("key", "text", "reason"),
    [
        ("interval", "0", "expected a number greater than 0"),
        ("interval", "-1", "expected a number greater than 0"),
        ("interval", "nan", "expected a number greater than 0"),
        ("interval", "1e-9", "expected at least 0.001 seconds: a shorter interval would only burn a core"),
        ("interval", "fast", "expected a number greater than 0"),
        ("retries", "many", "expected a whole number$"),
        ("retries", "2.5", "expected a whole number$"),
        ("metric", "maybe", "expected true or false"),
        ("offset", "big", "expected a number$"),
        ("offset", "inf", "expected a number$"),
    ],
)
def test_bad_value_names_the_option_and_the_value(key: str, text: str, reason: str) -> None:
    with pytest.raises(OptionError, match=rf"^bad value '{text}' for option weather\.{key}: .*{reason}"):
        Weather.from_text_options({key: text})


def test_programmatic_interval_is_checked_too() -> None:
    with pytest.raises(OptionError, match=r"weather\.interval"):
        Weather(interval=-2)


@pytest.mark.parametrize("name", ["", "1abc", "has space", "x" * 65])
def test_invalid_field_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid field name"):
        Field(name)


def test_sample_must_be_implemented() -> None:
    class Empty(Feed):
        name = "empty"

    with pytest.raises(NotImplementedError, match=r"Empty\.sample\(\)"):
        Empty().sample()


def test_only_a_feed_that_measures_its_machine_is_per_host() -> None:
    @feed("load", per_host=True)
    def load() -> dict[str, float]:
        return {"load1": 0.5}

    assert (Weather.per_host, StocksFeed.per_host, SystemFeed.per_host, load.per_host) == (False, False, True, True)


@pytest.mark.parametrize(
    ("name", "node", "expected"),
    [
        ("system", "node-1.example", "system@node-1.example"),
        ("system", "10.0.0.7", "system@10.0.0.7"),
        ("a", "n" * MAX_NODE_NAME, "a@" + "n" * MAX_NODE_NAME),
    ],
)
def test_a_per_host_feed_is_named_name_at_node(name: str, node: str, expected: str) -> None:
    assert host_feed_name(name, node) == expected


@pytest.mark.parametrize(
    ("name", "node", "reason"),
    [
        ("system", "", "invalid node name ''"),
        ("system", "Node1", "invalid node name 'Node1'"),
        ("system", "-node", "invalid node name '-node'"),
        ("system", "a@b", "invalid node name 'a@b'"),
        ("system", "node_1", "invalid node name 'node_1'"),
        ("system", "n" * (MAX_NODE_NAME + 1), "invalid node name 'nnn"),
        ("System", "node", "invalid feed name 'System'"),
        ("system@a", "node", "invalid feed name 'system@a'"),
    ],
)
def test_a_per_host_name_is_refused_for_a_bad_feed_or_node_name(name: str, node: str, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^{reason}"):
        host_feed_name(name, node)


def test_taking_over_does_nothing_unless_a_feed_says_what() -> None:
    weather = Weather()
    assert weather.take_over({"temp_c": 30.0}) is None
    assert (weather.sample(), weather.fields) == ({"temp_c": 21.5}, (Field("temp_c", "°C"),))
