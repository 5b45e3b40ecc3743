"""A trivial server for the tests of handlers.transport.processes: ``python -m tests.processes_echo N [MODE]``.

It runs `run_processes` with N children, each answering every TCP connection with its pid and closing it, printing
``listening on`` once it serves and exiting 0 on SIGTERM or SIGINT, as the dashboard's server does. MODE ``crash``
makes each child exit with status 1 as soon as it starts, ``usage`` with status 2 (a start-up error it reported),
``usage-if:PATH`` with status 2 while the file PATH exists (a replacement that cannot start while its siblings serve).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys

from handlers.transport.processes import EXIT_USAGE, run_processes

# Short, so that the test of repeated deaths takes a fraction of a second.
RESTART_DELAY = 0.05


async def echo_pid(sockets: list[socket.socket]) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(str(os.getpid()).encode())
        await writer.drain()
        writer.close()

    servers = [await asyncio.start_server(answer, sock=sock) for sock in sockets]
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    port = sockets[0].getsockname()[1]
    print(f"listening on tcp://127.0.0.1:{port}/", flush=True)
    await stop.wait()
    for server in servers:
        server.close()


def serve(sockets: list[socket.socket], mode: str) -> int:
    if mode == "crash":
        return 1
    if mode == "usage" or (mode.startswith("usage-if:") and os.path.exists(mode.partition(":")[2])):
        print("processes_echo: error: a start-up error", file=sys.stderr)
        return EXIT_USAGE
    asyncio.run(echo_pid(sockets))
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    count, mode = int(sys.argv[1]), (sys.argv[2:] or ["serve"])[0]

    def bind() -> list[socket.socket]:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return [sock]

    port = 0
    sockets = bind()
    port = sockets[0].getsockname()[1]
    return run_processes(count, sockets, bind, lambda own: serve(own, mode), restart_delay=RESTART_DELAY)


if __name__ == "__main__":
    sys.exit(main())
