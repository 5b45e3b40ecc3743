"""tools/cluster.py (make cluster): a private redis-server and server.py --processes 2 on it, both gone after."""

from __future__ import annotations

import selectors
import signal
import subprocess
import sys
import time
import urllib.request

import orjson
import psutil

from tools.harness import ROOT

START_TIMEOUT_S = 20.0


def read_lines_until(process: subprocess.Popen[bytes], prefix: bytes) -> list[bytes]:
    """The lines ``process`` prints, up to the one that starts with ``prefix``."""
    assert process.stdout is not None
    received = b""
    deadline = time.monotonic() + START_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while not any(line.startswith(prefix) for line in received.split(b"\n")[:-1]):
            remaining = deadline - time.monotonic()
            assert remaining > 0 and selector.select(remaining), f"no {prefix!r} in {START_TIMEOUT_S} s: {received!r}"
            chunk = process.stdout.read1(4096)
            assert chunk, f"exited before {prefix!r}: {received!r}"
            received += chunk
    return received.split(b"\n")[:-1]


def test_the_cluster_serves_and_stops_with_its_redis() -> None:
    cluster = subprocess.Popen(
        [sys.executable, "-m", "tools.cluster", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        redis_line, listening = read_lines_until(cluster, b"listening on ")
        redis_pid = int(redis_line.rsplit(b"(pid ", 1)[1].split(b")")[0])
        assert redis_line.startswith(b"redis-server for this cluster at redis://127.0.0.1:")
        assert b":6379/" not in redis_line
        server = psutil.Process(cluster.pid).children()[-1]
        assert "--processes" in server.cmdline() and len(server.children()) == 2
        url = listening.split()[2].decode()
        with urllib.request.urlopen(url + "healthz", timeout=5) as response:
            assert orjson.loads(response.read())["status"] == "ok"
        cluster.send_signal(signal.SIGTERM)
        assert cluster.wait(START_TIMEOUT_S) == 0
        assert not psutil.pid_exists(redis_pid) or psutil.Process(redis_pid).status() == psutil.STATUS_ZOMBIE
    finally:
        if cluster.poll() is None:
            cluster.kill()
            cluster.wait()
        for pipe in (cluster.stdout, cluster.stderr):
            assert pipe is not None
            pipe.close()
