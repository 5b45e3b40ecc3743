"""handlers.security.guard and handlers.endpoints.base: the Host and Origin rules, alone and over real connections."""

from __future__ import annotations

import logging

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from handlers.security.guard import Guard, normalize_origin, split_host
from handlers.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("example.com:8888", "example.com"),
        ("[::1]:80", "::1"),
        ("LOCALHOST", "localhost"),
        ("10.0.0.1", "10.0.0.1"),
        ("localhost.:80", "localhost"),
        ("[::1]evil.example", ""),
        ("[::1]:80x", ""),
        ("a:b:c", ""),
        ("example.com:http", ""),
    ],
)
def test_split_host_drops_the_port(host: str, name: str) -> None:
    assert split_host(host) == name


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8888", True),
        ("[::1]:8888", True),
        ("192.168.1.20:8888", True),  # an IP address: a rebinding needs a name
        ("localhost:8888", True),
        ("app.localhost", True),
        ("dashboard.lan:8888", True),  # the --host name
        ("ops.example.com", True),
        ("a.b.corp.example", True),
        ("corp.example", False),  # *.corp.example is for subdomains only
        ("rebind.evil.example", False),
        ("localhost.evil.example", False),
        ("rebind.evil.example.", False),
        ("[::1]evil.example", False),
        ("", False),
    ],
)
def test_a_host_is_allowed_only_if_the_server_answers_to_it(host: str, allowed: bool) -> None:
    guard = Guard.of("dashboard.lan", ["ops.example.com", "*.corp.example"], [])
    assert guard.host_allowed(host) is allowed


def test_an_origin_is_allowed_when_it_is_the_servers_own_or_listed() -> None:
    guard = Guard.of("127.0.0.1", [], ["https://Ops.Example.com"])
    assert guard.origin_allowed("http://127.0.0.1:8888", "127.0.0.1:8888")
    assert guard.origin_allowed("https://ops.example.com", "127.0.0.1:8888")
    assert not guard.origin_allowed("https://ops.example.com:444", "127.0.0.1:8888")
    assert not guard.origin_allowed("https://evil.example", "127.0.0.1:8888")
    assert not guard.origin_allowed("null", "127.0.0.1:8888")


@pytest.mark.parametrize("origin", ["ftp://x.example", "https://x.example/path", "x.example", "https://"])
def test_an_origin_setting_must_be_an_origin(origin: str) -> None:
    with pytest.raises(ValueError, match="expected an origin"):
        normalize_origin(origin)


async def fetch(port: int, path: str, **headers: str) -> int:
    request = HTTPRequest(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        response = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as error:
        return error.code
    return response.code


@pytest.mark.gen_test
async def test_dns_rebinding_is_refused_on_every_route(http_server: object, http_port: int) -> None:
    for path in ("/", "/static/js/main.js", "/api/feeds", "/healthz"):
        assert await fetch(http_port, path, Host="rebind.evil.example") == 421, path
        assert await fetch(http_port, path, Host=f"localhost:{http_port}") == 200, path


@pytest.mark.gen_test
async def test_a_refused_host_is_told_the_flag_that_lets_it_in_and_logged_cut_and_escaped(
    http_server: object, http_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dashboard.auth"):
        with pytest.raises(HTTPClientError) as refused:
            await AsyncHTTPClient().fetch(
                HTTPRequest(f"http://127.0.0.1:{http_port}/", headers={"Host": "MyHost:8888"})
            )
        odd = "ev'il_" + "x" * 500  # Tornado itself refuses a Host of other characters (400)
        with pytest.raises(HTTPClientError) as refused_odd:
            await AsyncHTTPClient().fetch(HTTPRequest(f"http://127.0.0.1:{http_port}/api/feeds", headers={"Host": odd}))
    assert refused.value.code == 421 and refused.value.response is not None
    assert refused.value.response.body.decode() == (
        "421 Misdirected Request\nthis server does not answer to the name myhost: start it with --allowed-host myhost "
        "to open it by that name, or open it by its IP address\n"
    )
    assert refused_odd.value.response is not None
    assert b"start it with --allowed-host NAME to" in refused_odd.value.response.body  # not an echo of the header
    first, second = (record.getMessage() for record in caplog.records if record.name == "dashboard.auth")
    assert first == (
        "refused GET / (127.0.0.1): host 'MyHost:8888' is not one this server answers to (let it in with "
        "--allowed-host NAME)"
    )
    assert second.endswith(
        f'host "ev\'il_{"x" * 94}"... (406 more characters) is not one this server answers to '
        "(let it in with --allowed-host NAME)"
    )


@pytest.mark.gen_test
async def test_a_handshake_naming_a_rebound_host_is_refused(http_server: object, http_port: int) -> None:
    request = HTTPRequest(
        f"ws://127.0.0.1:{http_port}/ws",
        headers={"Host": "rebind.evil.example", "Origin": "http://rebind.evil.example"},
    )
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(request)
    assert refused.value.code == 421


@pytest.mark.gen_test
async def test_a_handshake_from_another_site_is_refused(http_server: object, http_port: int) -> None:
    request = HTTPRequest(f"ws://127.0.0.1:{http_port}/ws", headers={"Origin": "http://evil.example"})
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(request)
    assert refused.value.code == 403
    own = await websocket_connect(
        HTTPRequest(f"ws://127.0.0.1:{http_port}/ws", headers={"Origin": f"http://127.0.0.1:{http_port}"})
    )
    own.close()


@pytest.mark.gen_test
async def test_every_response_carries_the_security_headers(http_server: object, http_port: int) -> None:
    for path in ("/", "/static/style.css", "/api/feeds", "/nope"):
        try:
            response = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{http_port}{path}")
            headers = response.headers
        except HTTPClientError as error:
            assert error.response is not None
            headers = error.response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "no-referrer", path
    page = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{http_port}/")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


@pytest.mark.parametrize("name", ["*.", "*.com", "*", "a..b", "evil.com:80", "x*.example.com", "*.*.example.com"])
def test_an_allowed_host_setting_must_be_a_name_or_a_narrow_wildcard(name: str) -> None:
    with pytest.raises(SettingsError, match="expected a host name"):
        Settings(allowed_hosts=(name,))
