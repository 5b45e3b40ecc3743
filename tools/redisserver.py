"""A private ``redis-server`` on a free port: for the tests of the broker and for ``make cluster``.

Debian's ``redis-server`` runs as a child process bound to 127.0.0.1, never on Redis's default port 6379 (the
machine's own instance may be there), with its data in a temporary directory of its own. By default it keeps
nothing on disk; ``persist=True`` turns on the append-only file with an fsync per write, so a restart (even after
SIGKILL) comes back with every key; ``password`` makes it want one (``requirepass``). The process can be stopped,
killed, paused and resumed, and started again on the same port, as the failure tests need. Nothing here sleeps: the
server is ready when its log says so and it answers PING. Standard library only, so that ``tools/cluster.py`` needs
nothing installed.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

__all__ = ["REDIS_SERVER", "ROOT", "RedisServer", "command", "redis_server_path"]

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = "redis-server"
HOST = "127.0.0.1"
# The machine's own Redis may listen there: a private server must never take it, nor be mistaken for it.
DEFAULT_REDIS_PORT = 6379
READY_LINE = b"Ready to accept connections"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
READ_CHUNK_BYTES = 4096
# A free port found by binding port 0 may be taken by someone else before redis-server binds it: try a new one.
PORT_ATTEMPTS = 5


def redis_server_path() -> str:
    """Where ``redis-server`` is; a one-line error saying what to install if it is not on PATH."""
    path = shutil.which(REDIS_SERVER)
    if path is None:
        raise RuntimeError("redis-server is not on PATH: install Debian's redis-server package (make redis)")
    return path


def free_port() -> int:
    """A port nobody listens on now on 127.0.0.1, never 6379."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, 0))
            port: int = probe.getsockname()[1]
        if port != DEFAULT_REDIS_PORT:
            return port


class PortTakenError(Exception):
    """redis-server could not bind its port: someone took it between `free_port` and the start."""


class RedisServer:
    """``redis-server`` as a child process: ``with RedisServer() as redis: connect(redis.url)``.

    ``port=0`` picks a free port at the first start; every later `start` reuses it, so clients configured with
    `url` find the server again. Logs go to a temporary file, readable with `logs`.
    """

    def __init__(self, *, persist: bool = False, port: int = 0, password: str | None = None) -> None:
        if port == DEFAULT_REDIS_PORT:
            raise ValueError(f"port {DEFAULT_REDIS_PORT} belongs to the machine's own redis: use another")
        self.persist = persist
        self.password = password
        self.port = port
        self.directory = Path(tempfile.mkdtemp(prefix="redis-"))
        self.process: subprocess.Popen[bytes] | None = None
        self._logs = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self._logs_lock = threading.Lock()
        self._draining: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where to connect, with the password when the server wants one."""
        credentials = "" if self.password is None else f":{self.password}@"
        return f"redis://{credentials}{HOST}:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the redis server was never started"
        return self.process.pid

    def _command(self, port: int) -> list[str]:
        # On Linux, util-linux's setpriv has the kernel send redis-server SIGTERM when the process that started it
        # dies, even by SIGKILL (a test run cut short), so that no private redis-server is left behind.
        setpriv = shutil.which("setpriv")
        command = [setpriv, "--pdeathsig", "TERM"] if setpriv is not None else []
        command += [
            redis_server_path(),
            "--bind", HOST,
            "--port", str(port),
            "--dir", str(self.directory),
            "--save", "",
            "--logfile", "",
            "--daemonize", "no",
        ]  # fmt: skip
        if self.persist:
            command += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            command += ["--appendonly", "no"]
        if self.password is not None:
            command += ["--requirepass", self.password]
        return command

    def start(self) -> str:
        """Start the server (again on the same port if it ran before); return its URL once it answers PING."""
        assert self.process is None or self.process.poll() is not None, "the redis server is already running"
        attempts = PORT_ATTEMPTS if self.port == 0 else 1
        for attempt in range(1, attempts + 1):
            port = self.port or free_port()
            try:
                self._start_on(port)
            except PortTakenError:
                if attempt == attempts:
                    raise RuntimeError(
                        f"redis-server found no free port in {attempts} attempts:\n{self.logs()}"
                    ) from None
                continue
            self.port = port
            return self.url
        raise AssertionError("unreachable")

    def _start_on(self, port: int) -> None:
        self.process = subprocess.Popen(
            self._command(port),
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C in the terminal reaches whoever started it, who stops it in its turn.
            start_new_session=True,
        )
        try:
            self._wait_ready(port)
        except BaseException:
            self._reap()
            raise
        self._draining = threading.Thread(target=self._drain, args=(self.process,), daemon=True)
        self._draining.start()

    def _wait_ready(self, port: int) -> None:
        """Read the log until redis-server says it is ready (or exits), then check that it answers PING."""
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        received = b""
        deadline = time.monotonic() + START_TIMEOUT_S
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while READY_LINE not in received:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self._log(received)
                    raise RuntimeError(f"redis-server was not ready in {START_TIMEOUT_S} s:\n{self.logs()}")
                chunk = os.read(stdout.fileno(), READ_CHUNK_BYTES)
                if not chunk:
                    self._log(received)
                    if b"Address already in use" in received:
                        raise PortTakenError
                    raise RuntimeError(f"redis-server exited at start:\n{self.logs()}")
                received += chunk
        self._log(received)
        reply = command(port, "PING", password=self.password)
        if reply != b"+PONG\r\n":
            raise RuntimeError(f"redis-server on port {port} answered PING with {reply!r}")

    def _log(self, data: bytes) -> None:
        with self._logs_lock:
            self._logs.seek(0, os.SEEK_END)
            self._logs.write(data)

    def _drain(self, process: subprocess.Popen[bytes]) -> None:
        """Copy the server's log to the log file until it exits, so that a full pipe never blocks it."""
        assert process.stdout is not None
        with contextlib.suppress(OSError, ValueError):
            while chunk := os.read(process.stdout.fileno(), READ_CHUNK_BYTES):
                self._log(chunk)

    def _signal(self, signum: int) -> None:
        assert self.process is not None and self.process.poll() is None, "the redis server is not running"
        self.process.send_signal(signum)

    def stop(self) -> None:
        """SIGTERM, as an operator stops it, and wait until it has exited (SIGKILL after a timeout)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            self.process.send_signal(signal.SIGTERM)
        self._reap()

    def kill(self) -> None:
        """SIGKILL, as a crash: with ``persist=True`` every acknowledged write is still on disk."""
        self._signal(signal.SIGKILL)
        self._reap()

    def pause(self) -> None:
        """SIGSTOP: the server holds its connections open and answers nothing, as a frozen machine does."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        self._signal(signal.SIGCONT)

    def restart_empty(self) -> None:
        """Stop the server, delete everything it kept on disk, and start it again empty on the same port."""
        self.stop()
        for entry in self.directory.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        self.start()

    def _reap(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._draining is not None:
            self._draining.join()
            self._draining = None
        if self.process.stdout is not None:
            self.process.stdout.close()

    def logs(self) -> str:
        with self._logs_lock:
            self._logs.seek(0)
            return self._logs.read().decode(errors="replace")

    def close(self) -> None:
        """Stop the server if it runs and delete its directory and logs."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            self._logs.close()

    def __enter__(self) -> RedisServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def command(port: int, *args: str, password: str | None = None, timeout: float = START_TIMEOUT_S) -> bytes:
    """Send one command to the redis server on ``port`` in RESP (after an ``AUTH`` with ``password``, if given) and
    return its raw reply, which must be a simple string, an error, an integer or a bulk string (``+PONG\r\n``,
    ``$3\r\nbar\r\n``, ``$-1\r\n``)."""
    with socket.create_connection((HOST, port), timeout=timeout) as connection:
        if password is not None:
            reply = exchange(connection, ("AUTH", password))
            if reply != b"+OK\r\n":
                raise ConnectionError(f"redis-server on port {port} refused the password: {reply!r}")
        return exchange(connection, args)


def exchange(connection: socket.socket, args: tuple[str, ...]) -> bytes:
    """Send one command on ``connection`` and read its whole reply."""
    request = f"*{len(args)}\r\n" + "".join(f"${len(arg.encode())}\r\n{arg}\r\n" for arg in args)
    connection.sendall(request.encode())
    reply = b""
    while not complete(reply):
        chunk = connection.recv(READ_CHUNK_BYTES)
        if not chunk:
            raise ConnectionError(f"redis-server closed the connection after {reply!r}")
        reply += chunk
    return reply


def complete(reply: bytes) -> bool:
    """Whether ``reply`` holds a whole RESP reply of the kinds `command` reads."""
    header, found, rest = reply.partition(b"\r\n")
    if not found:
        return False
    if not header.startswith(b"$") or header == b"$-1":
        return True
    return len(rest) >= int(header[1:]) + 2
