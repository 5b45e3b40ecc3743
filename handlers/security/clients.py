"""Who counts as one client: the key every per-client limit and budget is kept under.

An IPv4 address is one client. An IPv6 client is its /64: a host is given a whole /64 (SLAAC, privacy addresses),
and may pick a new address in it for every socket, so that counted per address one host would get 2^64 times every
per-client allowance. The limits on sockets and WebSockets per client (`handlers.transport.connections`), the
HTTP request rate (`handlers.transport.gate`) and the log's budget of lines per client (`accesslog`) all count by
`client_of`. An IPv4 address written as IPv6 (``::ffff:192.0.2.1``, from a dual-stack socket) is that IPv4 address.
"""

from __future__ import annotations

import socket

__all__ = ["IPV6_CLIENT_PREFIX", "client_of"]

# Bits of an IPv6 address that name one client: the subnet a single host is given.
IPV6_CLIENT_PREFIX = 64
_PREFIX_BYTES = IPV6_CLIENT_PREFIX // 8
_HOST_BYTES = bytes(16 - _PREFIX_BYTES)
_IPV4_MAPPED = bytes(10) + b"\xff\xff"  # ::ffff:0:0/96


def client_of(address: str) -> str:
    """The client ``address`` belongs to: an IPv4 address itself, an IPv6 one its /64 (``2001:db8:1:2::/64``).
    Anything else (an empty address, a Unix socket's) is its own client."""
    if ":" not in address:
        return address  # IPv4, or no address: the cheap case first, for every socket and request
    try:
        packed = socket.inet_pton(socket.AF_INET6, address.partition("%")[0])  # link-local: a zone may follow
    except OSError:
        return address
    if packed.startswith(_IPV4_MAPPED):
        return socket.inet_ntop(socket.AF_INET, packed[len(_IPV4_MAPPED) :])
    return f"{socket.inet_ntop(socket.AF_INET6, packed[:_PREFIX_BYTES] + _HOST_BYTES)}/{IPV6_CLIENT_PREFIX}"
