"""handlers.transport.connections: every open WebSocket is in the registry, from its handshake to its close, and
every socket counts against its client's limit and the server's."""

from __future__ import annotations

import asyncio
import socket

import pytest
from tornado.netutil import bind_sockets
from tornado.web import Application
from tornado.websocket import websocket_connect

from handlers.endpoints.socket import FeedSocket
from handlers.settings import Settings
from handlers.transport.connections import Connections, Refusal
from handlers.transport.httpserver import DashboardHTTPServer

from .waiting import until
from .wsclient import Client


@pytest.mark.gen_test(timeout=10)
async def test_the_registry_holds_exactly_the_open_connections(
    http_server: object, http_port: int, connections: Connections[FeedSocket]
) -> None:
    assert len(connections) == 0
    clients = [await Client.connect(http_port) for _ in range(3)]
    for client in clients:
        await client.request({"op": "ping"})  # answered: the server side has opened
    assert len(connections) == 3
    assert all(isinstance(connection, FeedSocket) for connection in connections)
    clients[1].close()
    await until(lambda: len(connections) == 2)
    await clients[0].request({"op": "ping"})
    clients[0].close()
    clients[2].close()
    await until(lambda: len(connections) == 0)
    assert list(connections) == []


def test_a_client_over_its_own_limit_is_refused_before_the_server_is_full() -> None:
    """A full server makes room only for a client within its own limit, so the client's limit is looked at first."""
    limits = Settings(max_connections=2, max_connections_per_ip=1)  # 4 sockets in all, 2 per client
    registry: Connections[object] = Connections()
    for client in ("192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.3"):
        registry.socket_opened(client)
    assert registry.sockets_from("192.0.2.1") == 2
    assert registry.refuse_socket("192.0.2.1", limits, socket_budget=1000) is Refusal.CLIENT
    assert registry.refuse_socket("192.0.2.2", limits, socket_budget=1000) is Refusal.SERVER
    registry.socket_closed("192.0.2.3")
    assert registry.refuse_socket("192.0.2.2", limits, socket_budget=3) is Refusal.SERVER  # the fd budget
    assert registry.refuse_socket("192.0.2.2", limits, socket_budget=1000) is None


def loopback_ipv6() -> bool:
    """Whether this machine has ::1 to listen on."""
    try:
        with socket.create_server(("::1", 0), family=socket.AF_INET6):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not loopback_ipv6(), reason="no ::1 on this machine")
@pytest.mark.gen_test(timeout=10)
async def test_an_ipv6_client_is_counted_by_its_64_over_a_real_socket(
    app: Application, connections: Connections[FeedSocket]
) -> None:
    """An HTTP socket, then a WebSocket, each counted against ``::/64``, not ``::1``."""
    server = DashboardHTTPServer(app, settings=Settings(), connections=connections, socket_budget=100)
    listening = bind_sockets(0, "::1")
    server.add_sockets(listening)
    port = listening[0].getsockname()[1]
    _, writer = await asyncio.open_connection("::1", port)
    try:
        await until(lambda: connections.sockets_from("::/64") == 1)
        websocket = await websocket_connect(f"ws://[::1]:{port}/ws")
        assert connections.from_client("::/64") == 1
        assert connections.sockets_from("::/64") == 2
        assert connections.sockets_from("::1") == 0
        websocket.close()
    finally:
        writer.close()
        await writer.wait_closed()
        server.stop()
        await server.close_all_connections()
    await until(lambda: connections.sockets_from("::/64") == 0)
