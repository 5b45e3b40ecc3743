"""handlers.transport.connections: every open WebSocket is in the registry, from its handshake to its close."""

from __future__ import annotations

import pytest

from handlers.endpoints.socket import FeedSocket
from handlers.transport.connections import Connections

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
