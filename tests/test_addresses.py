"""handlers.transport.addresses: the `listening on` line a script reads and a person opens, and the start warning."""

from __future__ import annotations

import pytest

from handlers.settings import Settings
from handlers.transport.addresses import listening_line, open_warning

ADDRESSES = ["192.0.2.2", "198.51.100.7", "203.0.113.9", "203.0.113.10"]


def test_on_every_interface_the_line_goes_on_with_urls_a_person_can_open() -> None:
    line = listening_line(Settings(host="0.0.0.0"), "0.0.0.0", 8888, name="MyHost", addresses=ADDRESSES)
    assert line == (
        "listening on http://0.0.0.0:8888/ (open http://192.0.2.2:8888/ or http://198.51.100.7:8888/ or "
        "http://203.0.113.9:8888/; by name with --allowed-host myhost)"
    )


def test_the_machine_name_comes_first_when_the_server_answers_to_it() -> None:
    settings = Settings(host="::", allowed_hosts=("myhost",), certfile=__file__, keyfile=__file__)
    line = listening_line(settings, "::", 8443, name="MyHost", addresses=["2001:db8::5"])
    assert line == "listening on https://[::]:8443/ (open https://myhost:8443/ or https://[2001:db8::5]:8443/)"


def test_on_one_address_the_line_is_that_url_alone() -> None:
    assert listening_line(Settings(), "127.0.0.1", 8888, name="myhost") == "listening on http://127.0.0.1:8888/"
    line = listening_line(Settings(host="0.0.0.0"), "0.0.0.0", 80, name="odd_name", addresses=[])
    assert line == "listening on http://0.0.0.0:80/"  # nothing to open, and no name --allowed-host would take


@pytest.mark.parametrize(
    ("host", "secret", "warns"),
    [
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
        ("0.0.0.0", "s" * 32, False),
        ("0.0.0.0", None, True),
        ("192.0.2.2", None, True),
    ],
)
def test_a_server_open_to_other_machines_without_tokens_is_warned_about(
    host: str, secret: str | None, warns: bool
) -> None:
    warning = open_warning(Settings(host=host, auth_secret=secret))
    if warns:
        assert warning == (
            f"--host {host} with no --auth-secret: every feed is served to whoever can reach this machine; give "
            "--auth-secret to ask for tokens (docs/security.md), or --host 127.0.0.1 to serve this machine only"
        )
    else:
        assert warning is None
