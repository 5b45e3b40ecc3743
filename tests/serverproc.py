"""Run `server.py` as a real process for tests: start it, wait for its ``listening on`` line, stop it."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
READY_PREFIX = "listening on "


class ServerProcess:
    """``with ServerProcess("--option", "stocks.interval=0.1") as server: server.url``"""

    def __init__(self, *args: str, port: int = 0) -> None:
        self.args = ["--host", "127.0.0.1", "--port", str(port), *args]
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in __exit__)

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def start(self) -> str:
        """Start the server and return its URL once it accepts connections."""
        self.process = subprocess.Popen(
            [sys.executable, "server.py", *self.args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(deadline - time.monotonic()):
                    break
                line = self.process.stdout.readline()
                if not line:
                    break  # the process ended before it was ready
                if line.startswith(READY_PREFIX):
                    self.url = line[len(READY_PREFIX) :].strip()
                    return self.url
        self.stop()
        raise RuntimeError(f"server did not start: {self.stderr()}")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the server, wait for it to exit, and return its exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            status = self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return status

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType] | None) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()
        self._stderr.close()


def run_server(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``server.py`` with ``args`` to completion (for flags that exit at once, like --help or a bad option)."""
    return subprocess.run(
        [sys.executable, "server.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
