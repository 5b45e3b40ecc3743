"""handlers.security.clients: an IPv4 address is one client, an IPv6 client is its /64."""

from __future__ import annotations

import pytest

from handlers.security.clients import client_of


@pytest.mark.parametrize(
    ("address", "client"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("127.0.0.2", "127.0.0.2"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # the same host, another privacy address
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # the next /64: another client
        ("2001:DB8:1:2::9", "2001:db8:1:2::/64"),  # however it is written
        ("::1", "::/64"),
        ("fe80::1%eth0", "fe80::/64"),  # a link-local address with its zone
        ("::ffff:192.0.2.1", "192.0.2.1"),  # IPv4 through a dual-stack socket: the IPv4 client
        ("", ""),  # no address (a Unix socket): one client, as before
        ("not:an:address", "not:an:address"),
    ],
)
def test_each_address_belongs_to_its_client(address: str, client: str) -> None:
    assert client_of(address) == client
