"""Peer: the websockets library, each tick encoded once and sent with its broadcast()."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.peers.common import TickSource, parse_args

subscribers: dict[str, set[ServerConnection]] = {"json": set(), "binary": set()}


async def handler(connection: ServerConnection) -> None:
    try:
        async for message in connection:
            subscribers[json.loads(message).get("format", "json")].add(connection)
    finally:
        for group in subscribers.values():
            group.discard(connection)


async def ticker(source: TickSource, interval: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    while True:
        deadline += interval
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        current = source.next_tick()
        if subscribers["json"]:
            broadcast(subscribers["json"], source.payload(current, "json").decode())
        if subscribers["binary"]:
            broadcast(subscribers["binary"], source.payload(current, "binary"))


async def main() -> None:
    args = parse_args(__doc__)
    source = TickSource(args.symbols, args.interval)
    async with serve(handler, args.host, args.port, compression=None, ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"listening on http://{args.host}:{port}/", flush=True)
        await ticker(source, args.interval)


if __name__ == "__main__":
    asyncio.run(main())
