"""server.py as a user runs it: flags, start-up errors, options reaching the feeds, and a clean exit."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import orjson
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from broker.url import BROKER_ENV
from tools.harness import ROOT, Server

EXIT_TIMEOUT = 20.0


def run_server(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``server.py`` to completion, for flags that exit at once (--help, a bad option)."""
    return subprocess.run(
        [sys.executable, "server.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT,
        check=False,
        env=env,
    )


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return orjson.loads(response.read())


def status_of(url: str) -> int:
    """The status of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "ws"


def first_ticks(url: str, feed: str, count: int, token: str | None = None) -> list[dict[str, object]]:
    query = "" if token is None else f"?token={token}"
    with connect(url.replace("http://", "ws://") + "ws" + query, open_timeout=5) as ws:
        ws.send(orjson.dumps({"op": "subscribe", "feed": feed}).decode())
        assert orjson.loads(ws.recv(timeout=5))["op"] == "subscribed"
        ticks = []
        while len(ticks) < count:
            message = orjson.loads(ws.recv(timeout=5))
            if message["op"] == "data":
                ticks.append(message)
    return ticks


# Every flag the server has, with a piece of its help: a flag added without a line here fails the test below.
FLAGS = {
    "-h, --help": "show this help message and exit",
    "--host ADDRESS": "address to listen on",
    "--port PORT": "port to listen on, 0 for any free port (default: 8888)",
    "--allowed-host NAME": "a name this server answers to besides IP addresses, localhost and --host",
    "--allowed-origin URL": "an origin (scheme://host[:port]) whose pages may open WebSockets here",
    "--auth-secret SECRET": "require a token signed with this secret (HS256, at least 32 bytes) from every client",
    "--certfile PATH": "serve https and wss with this certificate chain (PEM)",
    "--keyfile PATH": "the private key of --certfile (PEM)",
    "--xheaders": "of a reverse proxy in front (client addresses for limits and logs, the scheme)",
    "--history-seconds SECONDS": "what a reconnecting one gets back (default: 3600.0)",
    "--history-ticks N": "whatever its rate; 0: keep no history (default: 36000)",
    "--history-bytes BYTES": "in both formats and their records), whatever its ticks' width (default: 67108864)",
    "--history-total-bytes BYTES": "if that is less than --history-bytes (default: 268435456)",
    "--replay-budget BYTES": "cut to its newest ticks, with gap: true (default: 67108864)",
    "--max-backlog BYTES": "only the newest tick of each feed is kept (default: 262144)",
    "--stall-timeout SECONDS": "has read nothing for this long while data waits for it (default: 10.0)",
    "--max-message-bytes BYTES": "a larger one closes its connection (code 1009) (default: 65536)",
    "--ping-interval SECONDS": "seconds between the server's pings of each connection (default: 20.0)",
    "--ping-timeout SECONDS": "checked when its next ping is due (default: 20.0)",
    "--max-connections N": "one more is refused with HTTP 503 before the upgrade; 0: no limit (default: 10000)",
    "--max-connections-per-ip N": "from one client (an IPv4 address, an IPv6 /64); one more gets HTTP 503; 0: no",
    "--max-subscriptions N": "one more is refused with too_many_subscriptions (default: 100)",
    "--max-rate PER_SECOND": "past it (and --max-burst) each gets rate_limited (default: 20.0)",
    "--max-burst N": "as many refused in a row close it (code 1008) (default: 100)",
    "--http-idle-timeout SECONDS": "or sent nothing, for this long (default: 60.0)",
    "--first-byte-timeout SECONDS": "sockets that have sent no request are closed first (default: 5.0)",
    "--max-header-bytes BYTES": "the largest request line and headers an HTTP request may have (default: 16384)",
    "--max-headers N": "one with more gets 400 and its connection is closed (default: 100)",
    "--max-http-rate PER_SECOND": "429 with Retry-After and its connection is closed; /healthz has a budget of its own",
    "--max-http-burst N": "(a page load is about 30) (default: 100)",
    "--broker URL": "a cluster that shares its feeds through this Redis: redis://[:PASSWORD@]HOST:PORT/DB, or rediss://",
    "--processes N": "server processes on this machine, sharing the port (SO_REUSEPORT); more than 1 needs --broker",
    "--node-name NAME": "this machine's name in the cluster (letters, digits, dots, dashes)",
    "--leader-ttl SECONDS": "a crashed leader is replaced within twice this (default: 3.0)",
    "--option FEED.KEY=VALUE": "set a feed's option before it starts",
    "--feed TARGET": "load feed plugins",
    "--feeds-dir DIR": "load the feeds of every *.py file in DIR",
    "--no-entry-points": "do not load the feeds that installed packages declare",
    "--list-feeds": "print every feed",
}


def test_help_documents_every_flag() -> None:
    result = run_server("--help")
    assert result.returncode == 0
    for flag in ("--host", "--port", "--option FEED.KEY=VALUE"):
        assert flag in result.stdout
    for option in (
        "stocks: drift, interval, roles, seed, symbols, timeout, volatility",
        "system: interval, roles, timeout",
    ):
        assert option in " ".join(result.stdout.split())
    options = result.stdout.partition("options:")[2]
    listed = [line.strip().split("  ")[0] for line in options.splitlines() if line.startswith("  -")]
    assert listed == list(FLAGS)
    text = " ".join(options.split())
    for flag, help_text in FLAGS.items():
        assert help_text in text, flag
    assert "python server.py token --sub alice --roles viewer print a token for the clients of a server" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--bogus",), "server.py: error: unrecognized arguments: --bogus (see --help)"),
        (("--port",), "server.py: error: argument --port: expected one argument (see --help)"),
        (("token",), "server.py token: error: the following arguments are required: --sub (see --help)"),
        (("token", "--sub", "a", "--bogus"), "server.py token: error: unrecognized arguments: --bogus (see --help)"),
    ],
)
def test_a_flag_the_parser_refuses_is_one_line_not_the_usage(args: tuple[str, ...], expected: str) -> None:
    result = run_server(*args)
    assert (result.returncode, result.stderr) == (2, expected + "\n")


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--port", "99999", "bad value '99999' for --port: expected a port from 1 to 65535, or 0 for any free port"),
        ("--port", "http", "bad value 'http' for --port"),
        ("--max-backlog", "0", "bad value '0' for --max-backlog: expected a whole number greater than 0"),
        ("--stall-timeout", "-1", "bad value '-1' for --stall-timeout: expected a number greater than 0"),
        ("--max-message-bytes", "64k", "bad value '64k' for --max-message-bytes"),
        ("--ping-interval", "nan", "bad value 'nan' for --ping-interval: expected a number greater than 0"),
        ("--ping-timeout", "0", "bad value '0' for --ping-timeout"),
        ("--host", " ", "bad value ' ' for --host: expected an address"),
        ("--processes", "0", "bad value '0' for --processes: expected a whole number greater than 0"),
        ("--processes", "2", "--processes 2 needs --broker: processes share feeds through Redis"),
        ("--node-name", "web_1", "bad value 'web_1' for --node-name: expected a name of at most 63 letters"),
        ("--leader-ttl", "0", "bad value '0' for --leader-ttl: expected a number greater than 0"),
        ("--broker", "http://127.0.0.1:6380/0", "bad value for --broker: expected redis://"),
    ],
)
def test_a_bad_setting_stops_the_server_with_one_line_naming_it(flag: str, value: str, expected: str) -> None:
    result = run_server(flag, value)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"server.py: error: {expected}" + result.stderr.partition(expected)[2].strip()
    ]


@pytest.mark.parametrize(
    "url",
    [
        "redis://:Sw0rdf1sh@127.0.0.1:99999/0",
        "redis://:Sw0rdf1sh/x@127.0.0.1:6380/0",
        "redis://alice:Sw0rdf1sh@127.0.0.1:6380/zero",
        "Sw0rdf1sh:x@127.0.0.1",
    ],
)
@pytest.mark.parametrize("given", ["flag", "environment"])
def test_a_bad_broker_url_stops_the_server_without_showing_its_password(url: str, given: str) -> None:
    by_flag = given == "flag"
    result = run_server("--broker", url) if by_flag else run_server(env={**os.environ, BROKER_ENV: url})
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("server.py: error: bad value for --broker: ")
    assert "Sw0rdf1sh" not in result.stderr + result.stdout


def test_the_message_size_flag_reaches_the_connections() -> None:
    with Server("--max-message-bytes", "1000") as server, connect(ws_url(server), open_timeout=5) as ws:
        ws.send('{"op": "ping"' + " " * 900 + "}")
        assert orjson.loads(ws.recv(timeout=5))["op"] == "pong"
        ws.send('{"op": "ping"' + " " * 1000 + "}")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_a_trickle_of_half_sent_requests_cannot_hold_connections() -> None:
    """A request whose headers never end is dropped after --http-idle-timeout; too many header bytes at once."""
    with Server("--http-idle-timeout", "0.5", "--max-header-bytes", "1024") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as trickle:
            trickle.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            assert trickle.recv(1024) == b""  # closed by the server, long before the 10 s timeout
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as bloated:
            bloated.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"x" * 2048 + b"\r\n\r\n")
            assert not bloated.recv(1024).startswith(b"HTTP/1.1 200")
        assert get_json(server.url + "healthz") == {"status": "ok", "feeds": 2, "problems": []}


def test_the_ping_flags_reach_the_keepalive() -> None:
    """A client that never answers is pinged, then closed; with the default 20 s + 20 s this would time out."""
    with (
        Server("--ping-interval", "0.2", "--ping-timeout", "0.3") as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        sock.sendall(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        received = b""
        while not received.endswith(b"\x88\x13\x03\xf3no answer to ping"):  # Close, 19 bytes: 1011 + reason
            data = sock.recv(4096)
            assert data, received
            received += data
    assert b"\x89\x00" in received  # an empty ping came first


def test_options_reach_the_feeds() -> None:
    options = ["stocks.symbols=AAA,BB.B", "stocks.interval=0.05", "system.interval=3"]
    with Server(*(arg for option in options for arg in ("--option", option))) as server:
        feeds = {feed["name"]: feed for feed in get_json(server.url + "api/feeds")}  # type: ignore[attr-defined]
        ticks = first_ticks(server.url, "stocks", 3)
    assert feeds["stocks"]["interval"] == 0.05
    assert feeds["system"]["interval"] == 3
    assert (feeds["stocks"]["simulated"], feeds["system"]["simulated"]) == (True, False)
    assert {"name": "drift", "help": "expected log return per hour"} in feeds["stocks"]["options"]
    assert [option["name"] for option in feeds["system"]["options"]] == ["interval", "roles", "timeout"]
    assert [field["name"] for field in feeds["stocks"]["fields"]] == [
        "AAA.price",
        "AAA.volume",
        "BB.B.price",
        "BB.B.volume",
    ]
    assert set(ticks[0]["values"]) == {"AAA.price", "AAA.volume", "BB.B.price", "BB.B.volume"}  # type: ignore[arg-type]


def test_a_fixed_seed_gives_the_same_prices_across_runs() -> None:
    args = ("--option", "stocks.seed=11", "--option", "stocks.interval=0.02")
    runs = []
    for _ in range(2):
        with Server(*args) as server:
            runs.append({tick["seq"]: tick for tick in first_ticks(server.url, "stocks", 30)})
    # Two processes: the same values for the same seq, each run with its own identity.
    common = sorted(set(runs[0]) & set(runs[1]))
    assert len(common) >= 10
    assert [runs[0][seq]["values"] for seq in common] == [runs[1][seq]["values"] for seq in common]
    assert runs[0][common[0]]["run"] != runs[1][common[0]]["run"]


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (
            "stocks.nope=1",
            "unknown option stocks.nope (known: drift, interval, roles, seed, symbols, timeout, volatility)",
        ),
        ("stocks.interval=-1", "bad value '-1' for option stocks.interval: expected a number greater than 0"),
        ("stocks.drift=big", "bad value 'big' for option stocks.drift: expected a number"),
        ("stocks.interval=1e-9", "bad value '1e-9' for option stocks.interval: expected at least 0.001 seconds"),
        ("system.interval=soon", "bad value 'soon' for option system.interval"),
        ("stocks.symbols=aapl", "bad value 'aapl' for option stocks.symbols: invalid symbol 'aapl'"),
        ("weather.city=Oslo", "unknown feed 'weather' (known: system, stocks)"),
        ("stocks.interval", "expected FEED.KEY=VALUE"),
        ("interval=1", "expected FEED.KEY=VALUE"),
    ],
)
def test_a_bad_option_stops_the_server_with_one_line_naming_it(option: str, expected: str) -> None:
    result = run_server("--port", "0", "--option", option)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("server.py: error: ")
    assert expected in lines[0]


def test_a_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_server("--host", "127.0.0.1", "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"server.py: error: cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_exit_cleanly(signum: int) -> None:
    with Server("--option", "stocks.interval=0.02") as server:
        first_ticks(server.url, "stocks", 2)
        status = server.stop(signum)
        log = server.logs()
    assert status == 0
    assert "Traceback" not in log
    assert "shutting down" in log


STUCK = """
import time
from feeds import Feed, Field

class Stuck(Feed):
    name = "stuck"
    interval = 0.05
    timeout = 0.2
    fields = (Field("x"),)

    def sample(self):
        time.sleep(3600)  # a network call that never returns
"""


def test_a_sample_stuck_in_a_blocking_call_does_not_keep_the_server_from_exiting(tmp_path: Path) -> None:
    plugin = tmp_path / "stuck.py"
    plugin.write_text(STUCK)
    with Server("--feed", str(plugin)) as server:
        with connect(server.url.replace("http://", "ws://") + "ws", open_timeout=5) as ws:
            ws.send('{"op": "subscribe", "feed": "stuck"}')
            while (message := orjson.loads(ws.recv(timeout=5)))["op"] != "status":
                pass
        assert (message["status"], message["error"]) == ("failing", "sample() took longer than 0.2 s")
        status = server.stop(signal.SIGTERM)
        log = server.logs()
    assert status == 0
    assert "Traceback" not in log
    assert "teardown()" not in log  # the feed has none, so none was waited for


def test_health_and_page_are_served() -> None:
    with Server() as server:
        assert get_json(server.url + "healthz") == {"status": "ok", "feeds": 2, "problems": []}
        with urllib.request.urlopen(server.url, timeout=5) as response:
            assert response.status == 200
            assert b"<html" in response.read().lower()
        with urllib.request.urlopen(server.url + "vendor/uplot/uPlot.esm.js", timeout=5) as response:
            assert response.status == 200


def test_on_every_interface_the_listening_line_names_urls_to_open_and_the_open_server_is_warned_about() -> None:
    with Server(host="0.0.0.0") as server:
        line = server.listening
        assert line.startswith(f"listening on http://0.0.0.0:{server.port}/ (open http://")  # harness read the first
        others = line.partition(" (open ")[2].partition(";")[0].rstrip(")").split(" or ")
        for url in others:  # this machine's addresses: each one opens the page
            assert status_of(url + "healthz") == 200, line
        if not others[0].startswith(f"http://{socket.gethostname().lower()}:"):
            assert line.endswith(f"; by name with --allowed-host {socket.gethostname().lower()})")
        assert "--host 0.0.0.0 with no --auth-secret: every feed is served to whoever can reach" in server.logs()
    with Server() as server:
        assert server.listening == f"listening on {server.url}"
        assert "--auth-secret" not in server.logs()


SECRET = "a secret of more than thirty-two bytes"


def test_the_token_command_prints_a_token_the_server_accepts() -> None:
    minted = subprocess.run(
        [sys.executable, "server.py", "token", "--secret", SECRET, "--sub", "alice", "--roles", "viewer,trader"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT,
        check=True,
    ).stdout.strip()
    with Server("--auth-secret", SECRET) as server:
        assert status_of(server.url + "api/feeds") == 401
        request = urllib.request.Request(server.url + "api/feeds", headers={"Authorization": f"Bearer {minted}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert [feed["name"] for feed in orjson.loads(response.read())] == ["system", "stocks"]
        ticks = first_ticks(server.url, "stocks", 2, token=minted)
        logs = server.logs()
    assert len(ticks) == 2
    assert minted not in logs and SECRET not in logs


def test_the_secret_may_come_from_the_environment() -> None:
    with Server(env={"DASHBOARD_AUTH_SECRET": SECRET}) as server:
        assert status_of(server.url + "api/feeds") == 401


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--ttl", "0", "bad value '0' for --ttl: expected a number greater than 0"),
        ("--ttl", "soon", "bad value 'soon' for --ttl: expected a number greater than 0"),
        ("--roles", "no spaces", "bad value 'no spaces' for --roles: invalid role 'no spaces'"),
    ],
)
def test_a_bad_value_of_the_token_command_names_its_flag(flag: str, value: str, expected: str) -> None:
    result = run_server("token", "--secret", SECRET, "--sub", "alice", flag, value)
    assert result.returncode == 2
    assert result.stderr.startswith(f"server.py token: error: {expected}")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("--auth-secret", "short"),
        ("token", "--secret", "short", "--sub", "alice"),
        ("token", "--sub", "alice"),
        ("token", "--secret", SECRET, "--sub", "alice", "--roles", "no spaces"),
    ],
)
def test_a_short_or_missing_secret_is_a_one_line_error(args: tuple[str, ...]) -> None:
    result = run_server(*args, env={key: value for key, value in os.environ.items() if key != "DASHBOARD_AUTH_SECRET"})
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "short" not in result.stderr  # a secret is never echoed


def handshake_status(server: Server, **headers: str) -> tuple[int, socket.socket]:
    """Send a WebSocket handshake with ``headers``: its answer's status, and the socket (left open)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    extra = "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items())
    sock.sendall(
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra.encode() + b"\r\n"
    )
    try:
        head = sock.recv(64)
    except ConnectionResetError:
        head = b""
    status = int(head.split()[1]) if head else 0  # 0: closed at once, unanswered (too many sockets)
    if status != 101:
        sock.close()  # a refused client goes away, as it would
    return status, sock


@pytest.mark.parametrize("xheaders", [False, True])
def test_behind_a_proxy_the_client_address_comes_from_its_headers(xheaders: bool) -> None:
    flags = ("--max-connections-per-ip", "1", *(("--xheaders",) if xheaders else ()))
    with Server(*flags) as server:
        first, a = handshake_status(server, X_Real_Ip="203.0.113.1")
        second, b = handshake_status(server, X_Real_Ip="203.0.113.2")
        same, c = handshake_status(server, X_Real_Ip="203.0.113.1")
        for sock in (a, b, c):
            sock.close()
    assert first == 101
    # Trusted, the header tells two clients apart; untrusted, both are 127.0.0.1 and the second is one too many.
    assert second == (101 if xheaders else 503)
    assert same in (503, 0)  # refused at the handshake, or at once if the refused one's socket still counts


SHUTDOWN_CLIENTS = 20
# What the issue allows a shutdown, however many connections are open.
SHUTDOWN_SECONDS = 3.0


def test_sigterm_closes_every_connection_with_1001_and_exits_within_3_s() -> None:
    with Server("--option", "stocks.interval=0.02") as server, ExitStack() as stack:
        clients = [stack.enter_context(connect(ws_url(server), open_timeout=5)) for _ in range(SHUTDOWN_CLIENTS)]
        for client in clients:
            client.send(orjson.dumps({"op": "subscribe", "feed": "stocks"}).decode())
            assert orjson.loads(client.recv(timeout=5))["op"] == "subscribed"
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        codes = []
        for client in clients:
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    client.recv(timeout=5)
            codes.append((closed.value.rcvd.code, closed.value.rcvd.reason) if closed.value.rcvd else None)
        assert server.process.wait(timeout=SHUTDOWN_SECONDS) == 0
        log = server.logs()
    assert codes == [(1001, "server shutting down")] * SHUTDOWN_CLIENTS
    assert f"closing {SHUTDOWN_CLIENTS} connections" in log


SLOW_TEARDOWN = """
import os
import time
from feeds import Feed, Field

class Lingering(Feed):
    name = "lingering"
    timeout = 60.0
    fields = (Field("x"),)

    def sample(self):
        return {"x": 1.0}

    def teardown(self):
        with open(os.environ["TEARDOWN_FIFO"], "w") as fifo:
            fifo.write("tearing down\\n")  # tells the test the shutdown has begun
        time.sleep(3600)  # a connection pool that never closes
"""


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    plugin, fifo = tmp_path / "lingering.py", tmp_path / "teardown.fifo"
    plugin.write_text(SLOW_TEARDOWN)
    os.mkfifo(fifo)
    with Server("--feed", str(plugin), env={"TEARDOWN_FIFO": str(fifo)}) as server:
        assert first_ticks(server.url, "lingering", 1)
        assert server.process is not None
        server.process.send_signal(signal.SIGINT)  # the shutdown waits for the teardown, up to its 60 s timeout
        with open(fifo) as teardown:
            assert teardown.readline() == "tearing down\n"
        server.process.send_signal(signal.SIGINT)
        status = server.process.wait(timeout=SHUTDOWN_SECONDS)
        log = server.logs()
    assert status == 128 + signal.SIGINT
    assert "second signal: exiting at once" in log


def test_sockets_that_never_finish_a_request_are_bounded_per_client() -> None:
    """A client holding sockets open before any upgrade gets at most twice its WebSocket limit; the rest are closed
    unread, and others are served all along."""
    per_ip, tried = 3, 30
    with Server("--max-connections-per-ip", str(per_ip)) as server, ExitStack() as stack:
        sockets = []
        for _ in range(tried):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # and nothing more
            sockets.append(sock)
        closed: set[int] = set()
        while len(closed) < tried - 2 * per_ip:
            readable, _, _ = select.select([sock for sock in sockets if sock.fileno() not in closed], [], [], 5)
            assert readable, f"only {len(closed)} of the {tried - 2 * per_ip} sockets over the limit were closed"
            for sock in readable:
                # Closed, not answered (reset, when the server closed it with our bytes unread).
                with contextlib.suppress(ConnectionResetError):
                    assert sock.recv(1) == b""
                closed.add(sock.fileno())
        other = socket.create_connection(("127.0.0.1", server.port), source_address=("127.0.0.2", 0), timeout=5)
        with other:
            other.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert other.recv(64).startswith(b"HTTP/1.1 200")
    assert len(closed) == tried - 2 * per_ip


def silent_sockets(server: Server, stack: ExitStack, count: int, addresses: int) -> list[socket.socket]:
    """``count`` sockets that send nothing, from ``addresses`` loopback addresses in turn (127.0.0.2 on)."""
    return [
        stack.enter_context(
            socket.create_connection(
                ("127.0.0.1", server.port), source_address=(f"127.0.0.{2 + n % addresses}", 0), timeout=5
            )
        )
        for n in range(count)
    ]


def get_health(server: Server, source: str) -> bytes:
    """The head of the answer to a GET /healthz from ``source``, on a socket of its own; b"" if closed unanswered."""
    with socket.create_connection(("127.0.0.1", server.port), source_address=(source, 0), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        try:
            return sock.recv(64)
        except ConnectionResetError:
            return b""


def test_silent_sockets_up_to_the_limit_do_not_keep_healthz_out() -> None:
    """Issue 18's attack, scaled down: as many sockets as the server may hold, from several addresses, none sending
    a byte. A newcomer takes the place of the oldest of them instead of being closed unanswered."""
    max_connections = 50  # twice as many sockets in all: 100
    flags = ("--max-connections", str(max_connections), "--first-byte-timeout", "60")  # no help from the timeout
    with Server(*flags) as server, ExitStack() as stack:
        silent = silent_sockets(server, stack, 2 * max_connections, addresses=4)
        assert get_health(server, "127.0.0.9").startswith(b"HTTP/1.1 200")
        assert silent[0].recv(1) == b""  # the oldest made room
        log = server.logs()
    assert "closed a socket that held no request (1 so far) to admit one from 127.0.0.9" in log
    assert "(2 so far)" not in log


def test_at_the_limit_a_socket_kept_alive_between_requests_makes_room_too() -> None:
    """The same attack with one request sent on each socket first: kept alive, they hold no request either."""
    with Server("--max-connections", "2", "--first-byte-timeout", "60") as server, ExitStack() as stack:
        kept = silent_sockets(server, stack, 4, addresses=2)
        for sock in kept:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.1 200")  # and the socket stays open
        assert get_health(server, "127.0.0.9").startswith(b"HTTP/1.1 200")
        assert kept[0].recv(1) == b""  # kept alive the longest


def test_a_socket_that_sends_nothing_is_closed_after_the_first_byte_timeout() -> None:
    """Long before --http-idle-timeout; a socket whose request is on its way is left to that one."""
    with (
        Server("--first-byte-timeout", "0.5") as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as silent,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as talking,
    ):
        talking.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the headers' end is yet to come
        started = time.monotonic()
        assert silent.recv(1) == b""
        waited = time.monotonic() - started
        talking.sendall(b"Connection: close\r\n\r\n")
        assert talking.recv(64).startswith(b"HTTP/1.1 200")
    assert 0.4 < waited < 5.0


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while data := sock.recv(65536):
        received += data
    return received


def test_pipelined_requests_with_thousands_of_header_lines_are_refused_before_they_are_parsed() -> None:
    """Issue 18's attack: GET /api/feeds with 2,600 header lines (13 KB, under --max-header-bytes), pipelined.
    Parsed, each cost 10.7 ms of CPU; now the first gets 400 and the connection closes, the rest unread."""
    attack = b"GET /api/feeds HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"a:b\r\n" * 2599 + b"\r\n"
    at_the_limit = b"GET /api/feeds HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"a:b\r\n" * 99 + b"\r\n"
    with Server() as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(at_the_limit.replace(b"a:b", b"Connection: close", 1))  # 100 lines: the default limit
            assert read_all(sock).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(attack * 5)
            answered = read_all(sock)
        log = server.logs()
    assert answered == b"HTTP/1.1 400 Bad Request\r\n\r\n"
    assert "Malformed HTTP message from 127.0.0.1: more than 100 header lines" in log


def test_requests_past_their_clients_rate_get_429_and_healthz_has_a_budget_of_its_own() -> None:
    """A client's pipelined requests past its burst get 429 with Retry-After, and the connection closes; its
    health checks, and other clients, are answered all along."""
    with Server("--max-http-rate", "0.1", "--max-http-burst", "3") as server:
        with socket.create_connection(("127.0.0.1", server.port), source_address=("127.0.0.2", 0), timeout=5) as sock:
            sock.sendall(b"GET /api/feeds HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 10)
            answered = read_all(sock)
        assert get_health(server, "127.0.0.2").startswith(b"HTTP/1.1 200")
        assert status_of(server.url + "api/feeds") == 200  # from 127.0.0.1
    statuses = [head.split(b"\r\n", 1)[0] for head in answered.split(b"HTTP/1.1 ")[1:]]
    assert statuses == [b"200 OK"] * 3 + [b"429 Too Many Requests"]
    refusal = answered[answered.index(b"HTTP/1.1 429") :]
    assert b"\r\nRetry-After: 10\r\n" in refusal
    assert b"\r\nConnection: close\r\n" in refusal


def test_a_flood_of_malformed_requests_writes_a_bounded_log() -> None:
    with Server() as server:
        before = len(server.logs())
        for _ in range(300):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: @" + b"A" * 8000 + b"\r\n\r\n")
                sock.recv(64)  # Tornado answers 400 and closes
        assert status_of(server.url + "healthz") == 200
        logged = server.logs()[before:]
    # Tornado would echo each request's 8 KB Host in a line of its own: 2.4 MB.
    assert len(logged) < 20 * 2200
    assert "more lines like this were not logged" in logged or logged.count("\n") <= 21


STUBBORN_TEARDOWN = """
import asyncio
from feeds import Feed, Field

class Stubborn(Feed):
    name = "stubborn"
    timeout = 60.0
    fields = (Field("x"),)

    def sample(self):
        return {"x": 1.0}

    async def teardown(self):
        while True:  # ignores being cancelled, as a careless teardown can
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass
"""


def test_a_teardown_that_will_not_stop_does_not_keep_the_server_past_3_s(tmp_path: Path) -> None:
    plugin = tmp_path / "stubborn.py"
    plugin.write_text(STUBBORN_TEARDOWN)
    with Server("--feed", str(plugin)) as server:
        assert first_ticks(server.url, "stubborn", 1)
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        status = server.process.wait(timeout=SHUTDOWN_SECONDS)
        log = server.logs()
    assert status == 1
    assert "the shutdown did not finish within 2.4 s: exiting anyway" in log
