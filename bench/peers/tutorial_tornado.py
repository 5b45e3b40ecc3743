"""Peer: Tornado as tutorials write it. A set of handlers, json.dumps and write_message for every client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from tornado.netutil import bind_sockets
from tornado.web import Application
from tornado.websocket import WebSocketHandler

from bench.peers.common import TickSource, parse_args

clients: set[TickSocket] = set()


class TickSocket(WebSocketHandler):
    fmt = "json"

    def on_message(self, message: str | bytes) -> None:
        self.fmt = json.loads(message).get("format", "json")
        clients.add(self)

    def on_close(self) -> None:
        clients.discard(self)


def tick(source: TickSource) -> None:
    current = source.next_tick()
    data: dict[str, Any] = {
        "op": "data",
        "feed": current.feed,
        "run": current.run,
        "seq": current.seq,
        "ts": current.ts,
        "values": dict(zip(current.fields, current.values, strict=True)),
    }
    for client in list(clients):
        if client.fmt == "json":
            # Compact separators only so that the load generator reads the same text as from the other servers.
            client.write_message(json.dumps(data, separators=(",", ":")))
        else:
            client.write_message(source.payload(current, "binary"), binary=True)


async def main() -> None:
    args = parse_args(__doc__)
    sockets = bind_sockets(args.port, args.host)
    HTTPServer(Application([(r"/ws", TickSocket)])).add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    source = TickSource(args.symbols, args.interval)
    PeriodicCallback(lambda: tick(source), args.interval * 1000).start()
    print(f"listening on http://{args.host}:{port}/", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
