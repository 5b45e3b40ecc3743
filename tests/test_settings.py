"""handlers.settings: one object for every setting, parsed and checked the way feed options are."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from broker.url import BROKER_ENV, BrokerURL
from feeds.feed import NODE_NAME_PATTERN
from handlers.settings import Settings, SettingsError, add_flags, default_node_name


def parse(*argv: str) -> Settings:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return Settings.from_flags(parser.parse_args(argv))


def test_no_flags_give_the_defaults() -> None:
    assert parse() == Settings()


def test_every_setting_has_a_flag_and_reads_it() -> None:
    settings = parse(
        "--host", "0.0.0.0", "--port", "0", "--max-backlog", "1024", "--stall-timeout", "2.5",
        "--max-message-bytes", "4096", "--ping-interval", "5", "--ping-timeout", "7",
    )  # fmt: skip
    assert settings == Settings(
        host="0.0.0.0",
        port=0,
        max_backlog_bytes=1024,
        stall_timeout=2.5,
        max_message_bytes=4096,
        ping_interval=5.0,
        ping_timeout=7.0,
    )
    assert len({field.metadata["flag"] for field in dataclasses.fields(Settings)}) == len(dataclasses.fields(Settings))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"port": 65536}, "bad value '65536' for --port: expected a port from 1 to 65535, or 0 for any free port"),
        ({"port": -1}, "bad value '-1' for --port"),
        ({"max_backlog_bytes": 0}, "bad value '0' for --max-backlog: expected a whole number greater than 0"),
        ({"stall_timeout": float("inf")}, "bad value 'inf' for --stall-timeout: expected a number greater than 0"),
        ({"ping_interval": 0.0}, "bad value '0.0' for --ping-interval"),
        ({"max_http_rate": -1}, "bad value '-1' for --max-http-rate: expected a number, 0 or greater"),
        ({"max_headers": 0}, "bad value '0' for --max-headers: expected a whole number greater than 0"),
    ],
)
def test_settings_built_in_code_are_checked_too(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=f"^{message}"):
        Settings(**changes)  # type: ignore[arg-type]


def test_the_tornado_settings_carry_the_message_limit() -> None:
    assert Settings(max_message_bytes=1000).tornado_settings() == {"websocket_max_message_size": 1000}


def test_the_cluster_settings_default_to_one_process_without_a_broker() -> None:
    settings = Settings()
    assert (settings.broker, settings.broker_url, settings.processes, settings.leader_ttl) == (None, None, 1, 3.0)
    assert settings.node_name == default_node_name()


def test_the_broker_is_read_from_its_flag_or_the_environment_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "redis://:Sw0rdf1sh@127.0.0.1:6380/1"
    settings = parse("--broker", url, "--processes", "3", "--node-name", "Web-1.Example", "--leader-ttl", "1.5")
    assert (settings.processes, settings.node_name, settings.leader_ttl) == (3, "web-1.example", 1.5)
    assert settings.broker_url == BrokerURL("redis", "127.0.0.1", 6380, 1, None, "Sw0rdf1sh")
    assert "Sw0rdf1sh" not in repr(settings)
    monkeypatch.setenv(BROKER_ENV, url)
    assert parse().broker_url == settings.broker_url
    assert parse("--broker", "redis://other").broker_url == BrokerURL("redis", "other")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"processes": 2}, "--processes 2 needs --broker: processes share feeds through Redis$"),
        ({"processes": 0}, "bad value '0' for --processes: expected a whole number greater than 0$"),
        ({"broker": "redis://:Sw0rdf1sh@h:0/0"}, "bad value for --broker: expected a port from 1 to 65535"),
        ({"broker": "Sw0rdf1sh"}, "bad value for --broker: expected redis://"),
        ({"node_name": "web_1"}, "bad value 'web_1' for --node-name: expected a name of at most 63 letters, digits"),
        ({"node_name": "-web"}, "bad value '-web' for --node-name"),
        ({"node_name": "w" * 64}, "bad value 'w{64}' for --node-name"),
        ({"leader_ttl": 0}, "bad value '0' for --leader-ttl: expected a number greater than 0$"),
    ],
)
def test_bad_cluster_settings_are_refused_in_one_line(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=f"^{message}") as refused:
        Settings(**changes)  # type: ignore[arg-type]
    assert "Sw0rdf1sh" not in str(refused.value)


def test_processes_with_a_broker_are_accepted() -> None:
    assert Settings(processes=2, broker="redis://127.0.0.1:6380/0").processes == 2


@pytest.mark.parametrize(
    ("host_name", "node_name"),
    [
        ("web-1", "web-1"),
        ("Build_Box.Example.COM", "build-box.example.com"),
        ("_leading", "leading"),
        ("x" * 80, "x" * 63),
        ("___", "node"),
        ("", "node"),
    ],
)
def test_the_default_node_name_is_the_host_name_made_valid(host_name: str, node_name: str) -> None:
    assert default_node_name(host_name) == node_name
    assert NODE_NAME_PATTERN.match(node_name)
