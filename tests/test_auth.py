"""handlers.security.auth in use: tokens at the door (401), roles per feed (hidden), expiry (4001), refresh."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import jwt
import orjson
import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.ioloop import IOLoop
from tornado.web import Application
from tornado.websocket import websocket_connect

from feeds.hub import Hub
from feeds.producer import Producer
from feeds.stocks import StocksFeed
from feeds.system import SystemFeed
from handlers.endpoints.app import make_app
from handlers.security.auth import Authenticator, AuthError, Identity, bearer_token, may_read
from handlers.settings import Settings

from .conftest import STOCKS_INTERVAL, STOCKS_SEED, SYSTEM_INTERVAL
from .fakeclock import FakeClock
from .wsclient import Client

SECRET = "correct horse battery staple, 32+"
AUTH = Authenticator(SECRET)


def token(sub: str = "alice", roles: tuple[str, ...] = ("viewer",), ttl: float = 3600) -> str:
    return AUTH.mint(sub, roles, ttl)


# --- the tokens themselves -------------------------------------------------------------------------------------


def test_a_minted_token_verifies_to_its_claims() -> None:
    clock = FakeClock(1_800_000_000.0)
    authenticator = Authenticator(SECRET, clock=clock.time)
    identity = authenticator.verify(authenticator.mint("alice", ["trader", "viewer"], 60))
    assert identity == Identity("alice", frozenset({"trader", "viewer"}), 1_800_000_060.0)
    clock.advance(60)
    with pytest.raises(AuthError, match=r"^token expired$"):
        authenticator.verify(authenticator.mint("alice", [], 0.5))


@pytest.mark.parametrize(
    ("presented", "reason"),
    [
        (None, "no token"),
        ("", "no token"),
        ("not.a.token", "malformed token"),
        ("x" * 9000, "token too long"),
        (
            jwt.encode({"sub": "a", "exp": 4_000_000_000}, "another secret of 32 bytes or more!", "HS256"),
            "bad signature",
        ),
        (jwt.encode({"sub": "a", "exp": 4_000_000_000}, SECRET * 2, "HS512"), "malformed token"),  # not HS256
        (jwt.encode({"exp": 4_000_000_000}, SECRET, "HS256"), "malformed token"),
        (jwt.encode({"sub": "a"}, SECRET, "HS256"), "malformed token"),
        (jwt.encode({"sub": "", "exp": 4_000_000_000}, SECRET, "HS256"), "'sub' must be a non-empty string"),
        (jwt.encode({"sub": "a", "exp": 4_000_000_000, "roles": "admin"}, SECRET, "HS256"), "'roles' must be a list"),
        (jwt.encode({"sub": "a", "exp": 1_000}, SECRET, "HS256"), "token expired"),
        ("e30.e30.", "malformed token"),  # an unsigned token (alg none)
        (jwt.encode({"sub": "a", "exp": math.inf}, SECRET, "HS256"), "'exp' must be a time"),
        (jwt.encode({"sub": "a", "exp": 10**400}, SECRET, "HS256"), "'exp' must be a time"),
        (jwt.encode({"sub": "a", "exp": 4_000_000_000, "nbf": math.nan}, SECRET, "HS256"), "'nbf' must be a time"),
        (jwt.encode({"sub": "a", "exp": 4_000_000_000, "nbf": 3_999_999_999}, SECRET, "HS256"), "not valid yet"),
        (
            jwt.encode({"sub": "a", "exp": 4_000_000_000}, SECRET, "HS256", headers={"crit": ["x\nINFO forged"]}),
            r"^malformed token \(\w+\)$",  # the client's words never reach the log
        ),
    ],
)
def test_a_token_that_does_not_verify_is_refused_saying_why(presented: str | None, reason: str) -> None:
    with pytest.raises(AuthError, match=reason):
        AUTH.verify(presented)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Authenticator("too short")


def test_bearer_tokens_and_roles() -> None:
    assert bearer_token("Bearer abc") == bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is bearer_token(None) is bearer_token("Bearer ") is None
    viewer = Identity("a", frozenset({"viewer"}), 0.0)
    assert may_read(None, ("ops",))  # the server does not authenticate: every feed is open
    assert may_read(viewer, ())
    assert may_read(viewer, ("ops", "viewer"))
    assert not may_read(viewer, ("ops",))


# --- over real connections -------------------------------------------------------------------------------------


@pytest.fixture
def hub() -> Hub:
    # system is for the ops role only; stocks for anyone let in.
    return Hub(
        [
            SystemFeed(interval=SYSTEM_INTERVAL, roles="ops"),
            StocksFeed(interval=STOCKS_INTERVAL, seed=STOCKS_SEED),
        ]
    )


@pytest.fixture
def app(hub: Hub, io_loop: IOLoop) -> Iterator[Application]:
    producer = Producer(hub.feeds, hub)
    producer.start()
    yield make_app(hub, Settings(auth_secret=SECRET))
    io_loop.run_sync(producer.stop)


async def status_of(request: HTTPRequest) -> int:
    try:
        return (await AsyncHTTPClient().fetch(request)).code
    except HTTPClientError as error:
        return error.code


BAD_TOKENS = {
    "none": None,
    "bad signature": Authenticator("another secret of 32 bytes or more!").mint("alice", ["viewer"], 60),
    "expired": jwt.encode({"sub": "alice", "exp": 1_000}, SECRET, "HS256"),
    "malformed": "garbage",
}


@pytest.mark.gen_test
@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_without_a_good_token_ws_and_the_feed_list_answer_401(
    http_server: object, http_port: int, case: str
) -> None:
    presented = BAD_TOKENS[case]
    query = "" if presented is None else f"?token={presented}"
    for path in ("/ws", "/api/feeds"):
        assert await status_of(HTTPRequest(f"http://127.0.0.1:{http_port}{path}{query}")) == 401, path
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(f"ws://127.0.0.1:{http_port}/ws{query}")
    assert refused.value.code == 401
    assert refused.value.response is not None
    assert refused.value.response.body == b"401 Unauthorized\n"  # nothing else said
    # The page, its files and the health check stay open.
    for path in ("/", "/static/js/main.js", "/healthz"):
        assert await status_of(HTTPRequest(f"http://127.0.0.1:{http_port}{path}")) == 200, path


@pytest.mark.gen_test
async def test_the_feed_list_shows_only_what_the_token_may_read(http_server: object, http_port: int) -> None:
    async def names(presented: str) -> list[str]:
        request = HTTPRequest(
            f"http://127.0.0.1:{http_port}/api/feeds", headers={"Authorization": f"Bearer {presented}"}
        )
        return [feed["name"] for feed in orjson.loads((await AsyncHTTPClient().fetch(request)).body)]

    assert await names(token(roles=("viewer",))) == ["stocks"]
    assert await names(token(roles=("ops",))) == ["system", "stocks"]


@pytest.mark.gen_test
async def test_a_feed_needing_another_role_is_answered_as_a_feed_that_does_not_exist(
    http_server: object, http_port: int
) -> None:
    """A client cannot tell a hidden feed from a made-up name: the same code and the same words, for subscribe and
    unsubscribe alike."""
    client = Client(await websocket_connect(f"ws://127.0.0.1:{http_port}/ws?token={token()}"))
    for op in ("subscribe", "unsubscribe"):
        hidden = await client.request({"op": op, "feed": "system", "id": 1})
        made_up = await client.request({"op": op, "feed": "nope", "id": 1})
        assert (hidden["code"], hidden["message"], hidden["id"]) == (
            "unknown_feed",
            "unknown feed 'system' (known: stocks)",
            1,
        )
        assert made_up == {**hidden, "message": "unknown feed 'nope' (known: stocks)"}
    await client.subscribe("stocks")
    ticks = await client.ticks(3)
    assert [tick.seq for tick in ticks] == list(range(ticks[0].seq, ticks[0].seq + 3))
    client.close()


@pytest.mark.gen_test(timeout=10)
async def test_a_connection_closes_with_4001_when_its_token_expires(http_server: object, http_port: int) -> None:
    request = HTTPRequest(f"ws://127.0.0.1:{http_port}/ws", headers={"Authorization": f"Bearer {token(ttl=1.5)}"})
    client = Client(await websocket_connect(request))
    await client.subscribe("stocks")
    while await client.connection.read_message() is not None:
        pass
    assert (client.connection.close_code, client.connection.close_reason) == (4001, "token expired")
    client.close()


@pytest.mark.gen_test(timeout=10)
async def test_a_fresh_token_keeps_the_connection_past_the_old_expiry(http_server: object, http_port: int) -> None:
    short = token(ttl=1.5)
    client = Client(await websocket_connect(f"ws://127.0.0.1:{http_port}/ws?token={short}"))
    await client.subscribe("stocks")
    old_exp = AUTH.verify(short).exp
    reply = await client.request({"op": "auth", "token": token(ttl=3600), "id": "r"})
    assert reply["op"] == "authed"
    assert reply["exp"] > old_exp + 3000
    assert reply["id"] == "r"
    # Ticks go on past the first token's expiry: nothing closed the connection.
    while (tick := (await client.tick())[0]).ts < old_exp + 0.5:
        pass
    assert tick.feed == "stocks"
    client.close()


@pytest.mark.gen_test
async def test_a_refused_refresh_changes_nothing(http_server: object, http_port: int) -> None:
    client = Client(await websocket_connect(f"ws://127.0.0.1:{http_port}/ws?token={token()}"))
    await client.subscribe("stocks")
    for presented, reason in [
        (token(sub="mallory"), "token refused: it is for another subject than this connection's"),
        ("garbage", "token refused: malformed token"),
        (jwt.encode({"sub": "alice", "exp": 1_000}, SECRET, "HS256"), "token refused: token expired"),
    ]:
        error = await client.request({"op": "auth", "token": presented})
        assert (error["code"], error["message"][: len(reason)]) == ("unauthorized", reason)
    error = await client.request({"op": "auth"})
    assert (error["code"], error["message"]) == ("invalid_message", "missing 'token' in auth")
    ticks = await client.ticks(3)
    assert [tick.seq for tick in ticks] == list(range(ticks[0].seq, ticks[0].seq + 3))
    client.close()


@pytest.mark.gen_test
async def test_a_refresh_with_fewer_roles_ends_the_subscriptions_they_no_longer_cover(
    http_server: object, http_port: int
) -> None:
    client = Client(await websocket_connect(f"ws://127.0.0.1:{http_port}/ws?token={token(roles=('ops',))}"))
    await client.subscribe("system")
    await client.subscribe("stocks")
    assert (await client.request({"op": "auth", "token": token(roles=("viewer",))}))["op"] == "authed"
    assert await client.reply() == {"op": "unsubscribed", "feed": "system", "reason": "forbidden"}
    client.forget_buffered_ticks()
    assert {tick.feed for tick in await client.ticks(20)} == {"stocks"}
    client.close()


@pytest.mark.gen_test
async def test_the_token_never_reaches_the_log(
    http_server: object, http_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    presented = token()
    with caplog.at_level(logging.DEBUG):
        client = Client(await websocket_connect(f"ws://127.0.0.1:{http_port}/ws?token={presented}"))
        await client.request({"op": "ping"})
        await status_of(HTTPRequest(f"http://127.0.0.1:{http_port}/api/feeds?token={presented}x"))
        client.close()
    assert caplog.records
    assert not [record for record in caplog.records if presented in record.getMessage()]
