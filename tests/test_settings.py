"""handlers.settings: one object for every setting, parsed and checked the way feed options are."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from handlers.settings import Settings, SettingsError, add_flags


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
