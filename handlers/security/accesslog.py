"""The server's log lines about requests: tokens redacted, and at most a few lines a second from any one client.

Tornado writes a line per request, with the query as sent: a token passed as ``?token=...`` would land in the log,
and a client looping on a refused request would write thousands of lines a second. `AccessLog` is the
application's ``log_function``: it redacts credentials from the URI (`redact`) and lets each client (an IPv4
address, an IPv6 /64: `handlers.security.clients`) write ``rate`` lines a second with bursts of ``burst``; what it
holds back is counted, and the count is logged with that client's next line. The same budget covers the error lines
about a client's requests (`handlers.endpoints.base`) and connections (`handlers.endpoints.socket`). It remembers
at most ``max_clients`` clients, the least recent forgotten first.
A header's value in a log line is `quoted`: cut short and escaped, whatever a client sent.
`LogBudget`, on the server's log handler, bounds every kind of line besides, whoever it is about, and cuts long ones,
with the traceback they carry (whose last line repeats an exception's message, of any size).
Both are a `feeds.tokenbucket.LineBudget`, keyed by client and by kind of line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import unquote_plus

from feeds.tokenbucket import LineBudget

from .clients import client_of

__all__ = ["AccessLog", "LogBudget", "quoted", "redact"]

access_log = logging.getLogger("tornado.access")

SECRET_NAMES = frozenset({"token", "access_token"})
REDACTED = "[redacted]"
LINES_PER_SECOND = 5.0
BURST = 20
MAX_CLIENTS = 10_000
# The budget of each kind of line, whoever it is about (LogBudget), and the longest line written.
KIND_LINES_PER_SECOND = 2.0
KIND_BURST = 20
MAX_LINE_CHARS = 2000
MAX_KINDS = 1000
# The most characters of a client's header a log line quotes.
QUOTED_CHARS = 100
# The longest traceback (or stack) written after a line: its start and its end are kept, the middle cut.
MAX_TRACEBACK_CHARS = 10_000


def redact(uri: str) -> str:
    """``uri`` with the value of every credential in its query replaced, however its name is encoded."""
    path, mark, query = uri.partition("?")
    if not mark:
        return uri
    query, hash_mark, fragment = query.partition("#")
    pairs = query.split("&")
    kept = [
        f"{pair.partition('=')[0]}={REDACTED}" if unquote_plus(pair.partition("=")[0]).lower() in SECRET_NAMES else pair
        for pair in pairs
    ]
    return f"{path}?{'&'.join(kept)}{hash_mark}{fragment}"


def quoted(text: str, limit: int = QUOTED_CHARS) -> str:
    """A client's ``text`` in a log line: its first ``limit`` characters, quoted, every one outside printable ASCII
    escaped (a line break cannot forge a line), and how many more were cut."""
    head = ascii(text[:limit])
    return head if len(text) <= limit else f"{head}... ({len(text) - limit} more characters)"


class _Request(Protocol):
    method: str | None
    uri: str | None
    remote_ip: str | None

    def request_time(self) -> float: ...


class _Handler(Protocol):
    request: _Request

    def get_status(self) -> int: ...


class AccessLog:
    """A per-client budget of log lines, and the access line of each request that fits in it."""

    def __init__(
        self,
        rate: float = LINES_PER_SECOND,
        burst: int = BURST,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self._budgets = LineBudget(rate, burst, max_clients, clock)

    def allow(self, address: str) -> bool:
        """Whether a line about the client at ``address`` may be written now (it uses up one); held-back lines are
        counted."""
        client = client_of(address)
        held = self._budgets.take(client)
        if held is None:
            return False
        if held:
            access_log.warning("%d lines about %s were not logged (more than %g a second)", held, client, self.rate)
        return True

    def __call__(self, handler: _Handler) -> None:
        """Tornado's ``log_function``: one line per finished request, the way Tornado writes it, redacted."""
        request = handler.request
        if not self.allow(request.remote_ip or "?"):
            return
        status = handler.get_status()
        level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
        access_log.log(
            level,
            "%d %s %s (%s) %.2fms",
            status,
            request.method,
            redact(request.uri or ""),
            request.remote_ip,
            1000.0 * request.request_time(),
        )


class LogBudget(logging.Filter):
    """A budget for every kind of log line, on the server's log handler: at most ``rate`` lines a second of each
    (logger, level, message template), with bursts of ``burst``; what it holds back is counted on the next line of
    its kind. Lines are cut to ``max_chars``, and a traceback or stack they carry to ``max_traceback_chars`` (its
    middle cut: a traceback's end names the exception). It bounds what no per-client budget sees: Tornado's and
    asyncio's own lines about malformed requests, TLS errors or refused sockets, whose client a line does not name
    reliably; and a feed plugin's exception, whose message may be of any size."""

    def __init__(
        self,
        rate: float = KIND_LINES_PER_SECOND,
        burst: int = KIND_BURST,
        max_chars: int = MAX_LINE_CHARS,
        max_kinds: int = MAX_KINDS,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_traceback_chars: int = MAX_TRACEBACK_CHARS,
    ) -> None:
        super().__init__()
        self.max_chars = max_chars
        self.max_traceback_chars = max_traceback_chars
        self._budgets = LineBudget(rate, burst, max_kinds, clock)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == access_log.name:
            return True  # access lines have a budget per client already (AccessLog)
        held = self._budgets.take((record.name, record.levelno, str(record.msg)[:200]))
        if held is None:
            return False
        message = record.getMessage()
        if len(message) > self.max_chars:
            message = f"{message[: self.max_chars]}... ({len(message) - self.max_chars} more characters)"
        if held:
            message = f"{message} ({held} more lines like this were not logged)"
        record.msg, record.args = message, None
        # Rendered here, once, as the handler's formatter would (it keeps a record's exc_text): then cut.
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _cut_middle(record.exc_text, self.max_traceback_chars)
        if record.stack_info:
            record.stack_info = _cut_middle(record.stack_info, self.max_traceback_chars)
        return True


_TRACEBACKS = logging.Formatter()


def _cut_middle(text: str, max_chars: int) -> str:
    """``text`` if it has at most ``max_chars`` characters, else its start and its end with how much was cut between."""
    if len(text) <= max_chars:
        return text
    head = max_chars // 2
    return f"{text[:head]}\n... ({len(text) - max_chars} characters cut) ...\n{text[head - max_chars :]}"
