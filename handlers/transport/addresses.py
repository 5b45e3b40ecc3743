"""Where the server can be reached from: its ``listening on`` line, and the warning about a server open to others.

The line is for people and scripts alike. It starts ``listening on URL``, the first listening socket's, and a script
reads that first URL (tools/harness.py, the parent of ``--processes``, bench/run.py). When that address stands for
every interface (``0.0.0.0``, ``::``), which nobody opens from another machine, the same line goes on with URLs a
person can: this machine's name, when the server answers to it (`handlers.security.guard`), and its interfaces'
addresses, which it always answers to; or, when it does not answer to its name, the flag that would make it:
``listening on http://0.0.0.0:8888/ (open http://192.0.2.2:8888/; by name with --allowed-host vm)``.
A server that listens on more than loopback and asks for no token serves every feed to whoever reaches the machine:
`open_warning` says so at start.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence

import psutil

from handlers.security.guard import LOCALHOST, Guard
from handlers.settings import Settings, flag_of

__all__ = ["interface_addresses", "listening_line", "open_warning"]

# The addresses that stand for every interface of their family.
UNSPECIFIED = {"0.0.0.0": socket.AF_INET, "::": socket.AF_INET6}
# The most interface addresses the line names: a host with dozens of container bridges must not make it a paragraph.
MAX_ADDRESSES = 3
# A machine name the line may suggest giving to --allowed-host (which refuses anything else).
PLAIN_NAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")


def _is_loopback(host: str) -> bool:
    if host.lower() == LOCALHOST:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_warning(settings: Settings) -> str | None:
    """A warning when ``--host`` lets other machines in and no token is asked for; None when all is well."""
    if _is_loopback(settings.host) or settings.auth_secret is not None:
        return None
    return (
        f"{flag_of('host')} {settings.host} with no {flag_of('auth_secret')}: every feed is served to whoever can "
        f"reach this machine; give {flag_of('auth_secret')} to ask for tokens (docs/security.md), or "
        f"{flag_of('host')} 127.0.0.1 to serve this machine only"
    )


def interface_addresses(family: socket.AddressFamily) -> list[str]:
    """This machine's addresses of ``family`` that another machine could open: neither loopback nor link-local (an
    IPv6 link-local address needs a zone that no URL carries)."""
    found = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family != family:
                continue
            ip = ipaddress.ip_address(address.address.partition("%")[0])
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                found.append(str(ip))
    return found


def _url(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}/"


def listening_line(
    settings: Settings,
    host: str,
    port: int,
    *,
    name: str | None = None,
    addresses: Sequence[str] | None = None,
) -> str:
    """The ``listening on`` line of a server listening on ``host`` and ``port``: see the module's docstring. ``name``
    (this machine's, by default) and ``addresses`` (its interfaces', by default) are for tests."""
    scheme = "http" if settings.certfile is None else "https"
    line = f"listening on {_url(scheme, host, port)}"
    family = UNSPECIFIED.get(host)
    if family is None:
        return line
    name = (socket.gethostname() if name is None else name).lower()
    addresses = interface_addresses(family) if addresses is None else addresses
    answers_to_name = bool(name) and Guard.of(settings.host, settings.allowed_hosts, ()).host_allowed(name)
    urls = [_url(scheme, other, port) for other in ([name] if answers_to_name else []) + [*addresses][:MAX_ADDRESSES]]
    suggest = not answers_to_name and PLAIN_NAME.fullmatch(name) is not None
    hint = f"by name with {flag_of('allowed_hosts')} {name}" if suggest else ""
    parts = [f"open {' or '.join(urls)}"] if urls else []
    parts += [hint] if hint else []
    return f"{line} ({'; '.join(parts)})" if parts else line
