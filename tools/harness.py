"""Run the dashboard for a real browser: start ``server.py`` as a process, launch headless Chromium, wait for the page.

Shared by ``tools/screenshot.py`` and the browser tests in ``tests/browser/``, so both drive the page the same way.
Nothing here sleeps: the server is ready when it prints its ``listening on`` line, the page when its own
``data-state`` attributes say so.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from playwright.sync_api import Browser, Page, Playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "FAST_FEED_OPTIONS",
    "LIVE_TIMEOUT_MS",
    "ROOT",
    "Proxy",
    "Server",
    "launch_chromium",
    "wait_until_live",
    "wait_until_points",
]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach the internet.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
# Faster ticks than the defaults, so a few seconds show plenty of movement.
FAST_FEED_OPTIONS = ("--option", "stocks.interval=0.1", "--option", "system.interval=0.25")

READY_PREFIX = b"listening on "
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
READ_CHUNK_BYTES = 4096
# The first connection is immediate, and a reconnection waits at most the page's 10 s backoff cap.
LIVE_TIMEOUT_MS = 15_000

ALL_LIVE_JS = """() => {
    const panels = [...document.querySelectorAll('[data-testid="panel"]')];
    return panels.length > 0
        && panels.every((panel) => panel.dataset.state === "live")
        && document.querySelector('[data-testid="connection"]').dataset.state === "live";
}"""

STATES_JS = """() => ({
    page: document.querySelector('[data-testid="connection"]')?.dataset.state,
    panels: Object.fromEntries([...document.querySelectorAll('[data-testid="panel"]')].map(
        (panel) => [panel.dataset.feed, `${panel.dataset.state}, ${panel.dataset.points} points`])),
})"""

ENOUGH_POINTS_JS = """(seconds) => {
    const panels = [...document.querySelectorAll('[data-testid="panel"]')];
    return panels.length > 0 && panels.every(
        (panel) => Number(panel.dataset.points) >= seconds / Number(panel.dataset.interval));
}"""


class Server:
    """``server.py`` in a child process: ``with Server(*FAST_FEED_OPTIONS) as server: page.goto(server.url)``.

    ``port=0`` lets the server pick a free port; pass a previous server's ``port`` to start a successor on the
    same address. Logs (the server's stderr) go to a temporary file, readable with `logs`.
    """

    def __init__(
        self, *options: str, host: str = "127.0.0.1", port: int = 0, env: dict[str, str] | None = None
    ) -> None:
        self.command = [sys.executable, "server.py", "--host", host, "--port", str(port), *options]
        self.env = env or {}
        self.url = ""
        self.listening = ""  # the whole 'listening on' line
        self.process: subprocess.Popen[bytes] | None = None
        self._logs = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def start(self) -> str:
        """Start the server; return its URL once it accepts connections."""
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._logs,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
        )
        try:
            self.url = self._read_url()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _read_url(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        received = b""
        deadline = time.monotonic() + START_TIMEOUT_S
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in received:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise RuntimeError(f"server printed no 'listening on' line in {START_TIMEOUT_S} s:\n{self.logs()}")
                chunk = os.read(stdout.fileno(), READ_CHUNK_BYTES)
                if not chunk:
                    raise RuntimeError(f"server exited before listening:\n{self.logs()}")
                received += chunk
        line = received.split(b"\n", 1)[0]
        if not line.startswith(READY_PREFIX):
            raise RuntimeError(f"expected 'listening on URL' from the server, got {line!r}")
        self.listening = line.decode()
        return line[len(READY_PREFIX) :].decode().split()[0]  # the first URL; people's may follow it

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it; return its exit status (killed if it outlives the timeout)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            status = self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"server ignored signal {signum} for {STOP_TIMEOUT_S} s:\n{self.logs()}") from None
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()
        return status

    def logs(self) -> str:
        self._logs.seek(0)
        return self._logs.read().decode(errors="replace")

    def close(self) -> None:
        """Stop the server if it still runs and release everything it holds."""
        try:
            if self.process is not None and self.process.returncode is None:
                self.stop()
        finally:
            if self.process is not None and self.process.stdout is not None:
                self.process.stdout.close()  # the process may have exited without stop()
            self._logs.close()

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:
            self._logs.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class Proxy:
    """A TCP proxy in front of a server: ``cut()`` drops every connection through it while the server stays up, as
    a network does (a laptop's Wi-Fi, a NAT that forgot), and new connections come through as before."""

    def __init__(self, port: int) -> None:
        self._target = ("127.0.0.1", port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._closed = False
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closed:
                    # close() ran while this connection was being set up: it must not outlive the proxy.
                    client.close()
                    upstream.close()
                    return
                self._open += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(READ_CHUNK_BYTES):
                target.sendall(data)
        except OSError:
            pass  # cut, or the other side went away
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every connection through the proxy at once, without a WebSocket Close frame at either end."""
        with self._lock:
            cut, self._open = self._open, []
        for sock in cut:
            # shutdown() wakes the pump blocked in recv() on this socket, as close() alone would not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._listener.close()
        self.cut()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's headless Chromium (Playwright's own browser download needs the internet)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS))


def wait_until_live(page: Page, timeout_ms: float = LIVE_TIMEOUT_MS) -> None:
    """Wait until the page badge and every panel say ``live``."""
    try:
        page.wait_for_function(ALL_LIVE_JS, timeout=timeout_ms)
    except PlaywrightTimeoutError:
        raise AssertionError(f"the page is not live after {timeout_ms} ms: {page.evaluate(STATES_JS)}") from None


def wait_until_points(page: Page, seconds: float, timeout_ms: float) -> None:
    """Wait until every panel holds at least ``seconds`` worth of ticks (its ``data-points`` times its interval)."""
    try:
        page.wait_for_function(ENOUGH_POINTS_JS, arg=seconds, timeout=timeout_ms)
    except PlaywrightTimeoutError:
        raise AssertionError(f"not {seconds} s of data after {timeout_ms} ms: {page.evaluate(STATES_JS)}") from None
