"""``make cluster``: the dashboard as a cluster on one machine, for a newcomer to watch it run.

It starts a private ``redis-server`` on a free port (`tools.redisserver`, never the machine's own Redis on 6379,
keeping nothing on disk), then ``server.py --processes 2 --broker redis://127.0.0.1:PORT/0`` on it, with
``--host`` and ``--port`` as given and any further arguments passed on to the server. Ctrl-C (or SIGTERM) stops the
server, which closes its clients cleanly, and then Redis: nothing outlives the command.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from tools.redisserver import ROOT, RedisServer

__all__ = ["main"]

PROCESSES = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/cluster.py",
        description="Run the dashboard as a cluster on one machine: a private redis-server and server.py on it.",
        epilog="Arguments after the known ones go to server.py, e.g. --option stocks.interval=0.1",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", default="8888", help="port to listen on (default: %(default)s)")
    parser.add_argument(
        "--processes", default=str(PROCESSES), metavar="N", help="server processes (default: %(default)s)"
    )
    args, server_args = parser.parse_known_args(argv)
    with RedisServer() as redis:
        print(f"redis-server for this cluster at {redis.url} (pid {redis.pid}), stopped with it", flush=True)
        server = subprocess.Popen(
            [
                sys.executable, "server.py",
                "--processes", args.processes,
                "--broker", redis.url,
                "--host", args.host,
                "--port", args.port,
                *server_args,
            ],
            cwd=ROOT,
        )  # fmt: skip

        def forward(signum: int, frame: FrameType | None) -> None:
            # A Ctrl-C in the terminal reaches the server too (one process group); a SIGTERM only this process.
            if signum != signal.SIGINT and server.poll() is None:
                server.send_signal(signum)

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, forward)
        status = server.wait()
    return status


if __name__ == "__main__":
    sys.exit(main())
