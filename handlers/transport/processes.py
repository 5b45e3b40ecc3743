"""``--processes N``: N server processes on one machine, one port, and a parent that keeps them running.

How the processes share the port: each has a listening socket of its own on it, bound with ``SO_REUSEPORT``, and the
kernel spreads new connections over those sockets by a hash of their addresses. The alternative, one socket bound
before the fork and accepted from by every process, spreads them badly for long-lived connections: every process
waits on the same socket, epoll wakes them all (or the last to wait, first), and the process that is least busy at
that instant, often the one already holding most connections because it has just finished a round of writing to
them, accepts most of the next ones; a dashboard's WebSockets stay for hours, so the imbalance stays too (Cloudflare
measured it as one NGINX worker taking most of the load). ``SO_REUSEPORT`` costs something only when a process
stops: connections the kernel has queued to its socket but it has not yet accepted are reset, and those clients
reconnect as after any other drop. It needs Linux (3.9+) to spread connections (elsewhere the last socket bound
takes them all).

The parent binds first (so that ``--port 0`` resolves to one port for everyone), then forks the N children before
any event loop exists: child 0 serves on the sockets it inherits, the others bind sockets of their own on the same
port. The parent holds no socket after that; it only supervises. Each child's standard output is a pipe to the
parent, which reads the children's ``listening on URL`` lines and prints one, the first child's, once every child
has printed its own: the line still means the server serves. The parent forwards SIGTERM and SIGINT to every child
(each child is in a process group of its own, so a Ctrl-C in the terminal reaches them only through the parent, and
only once), waits for them, and exits 0 if they all exited cleanly. A child that dies while nothing stops it is
logged and started again after `RESTART_DELAY`, on sockets of its own; after `MAX_DEATHS` deaths within
`DEATH_WINDOW` seconds the parent stops the others and exits 1. A child that exits with status 2 has met a start-up
error (a bad setting, a Redis it cannot reach) that it reported itself: the parent stops the others and exits 2.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DEATH_WINDOW", "EXIT_USAGE", "MAX_DEATHS", "READY_PREFIX", "RESTART_DELAY", "run_processes"]

log = logging.getLogger("dashboard.processes")

# What a child prints on its standard output once it serves.
READY_PREFIX = b"listening on "
# Seconds between a child's unexpected death and its replacement: long enough not to spin on a child that cannot
# start, short enough that its share of the clients is back within a reconnect.
RESTART_DELAY = 0.5
# Deaths within DEATH_WINDOW seconds after which the parent gives up.
MAX_DEATHS = 5
DEATH_WINDOW = 60.0
# A child's exit status for a start-up error it reported itself: not worth starting again.
EXIT_USAGE = 2
EXIT_FAILED = 1
READ_CHUNK_BYTES = 4096
FORWARDED = (signal.SIGTERM, signal.SIGINT)

Sockets = list[socket.socket]


@dataclass
class Child:
    """One server process: its index (0 to N-1), its pid, and its standard output as the parent reads it."""

    index: int
    pid: int
    stdout: int
    pending: bytes = b""
    ready: bool = False


@dataclass
class Supervisor:
    """The parent of `run_processes`: starts the children, reads their output, forwards signals, replaces the dead."""

    count: int
    bind: Callable[[], Sockets]
    serve: Callable[[Sockets], int]
    restart_delay: float = RESTART_DELAY
    children: dict[int, Child] = field(default_factory=dict)  # by pid
    restarts: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time due, index)
    deaths: deque[float] = field(default_factory=deque)
    stopping: bool = False
    exit_status: int = 0
    announced: bool = False
    first_line: bytes = b""

    def run(self, sockets: Sockets) -> int:
        wakeup_read, wakeup_write = os.pipe()
        for fd in (wakeup_read, wakeup_write):
            os.set_blocking(fd, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(wakeup_read, selectors.EVENT_READ)
        self._parent_fds = [wakeup_read, wakeup_write]
        self._inherited = sockets
        # The handlers do nothing: the signal's number arrives on the wakeup pipe, and the loop below acts on it.
        previous = {signum: signal.signal(signum, _ignore) for signum in (*FORWARDED, signal.SIGCHLD)}
        signal.set_wakeup_fd(wakeup_write)
        try:
            for index in range(self.count):
                self._start(index, sockets if index == 0 else None)
            for sock in sockets:
                sock.close()  # child 0 holds them now
            return self._supervise(wakeup_read)
        finally:
            signal.set_wakeup_fd(-1)
            for signum, handler in previous.items():
                if handler is not None:
                    signal.signal(signum, handler)
            self._selector.close()
            for fd in self._parent_fds:
                os.close(fd)

    def _start(self, index: int, inherited: Sockets | None) -> None:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            self._become_child(index, write_end, inherited)  # never returns
        os.close(write_end)
        self.children[pid] = Child(index, pid, read_end)
        self._parent_fds.append(read_end)
        self._selector.register(read_end, selectors.EVENT_READ, self.children[pid])
        log.info("process %d started (pid %d)", index, pid)

    def _become_child(self, index: int, stdout: int, inherited: Sockets | None) -> None:
        status = EXIT_FAILED
        try:
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGTERM, signal.SIGCHLD):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            os.setpgid(0, 0)
            for fd in self._parent_fds:
                os.close(fd)
            sys.stdout.flush()
            os.dup2(stdout, sys.stdout.fileno())
            os.close(stdout)
            if inherited is None:
                for sock in self._inherited:
                    sock.close()  # child 0's: connections the kernel queues to them are for child 0 to accept
            try:
                sockets = inherited if inherited is not None else self.bind()
            except Exception as exc:  # the parent logs the death and tries again
                log.error("process %d cannot listen: %s", index, exc)
                return
            status = self.serve(sockets)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else EXIT_FAILED
        except BaseException:
            log.exception("process %d (pid %d) failed", index, os.getpid())
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            logging.shutdown()
            os._exit(status)

    def _supervise(self, wakeup: int) -> int:
        while self.children or (self.restarts and not self.stopping):
            timeout = None
            if self.restarts and not self.stopping:
                timeout = max(min(due for due, _ in self.restarts) - time.monotonic(), 0.0)
            for key, _ in self._selector.select(timeout):
                if key.fd == wakeup:
                    self._on_signals(wakeup)
                else:
                    self._read_output(key.data)
            self._reap()
            self._start_due()
        return self.exit_status

    def _on_signals(self, wakeup: int) -> None:
        with contextlib.suppress(BlockingIOError):
            for signum in os.read(wakeup, READ_CHUNK_BYTES):
                if signum in FORWARDED:
                    if not self.stopping:
                        log.info("stopping %d server processes", len(self.children))
                    self.stop(signal.Signals(signum))

    def stop(self, signum: signal.Signals = signal.SIGTERM) -> None:
        """Stop every child with ``signum`` and start no more."""
        self.stopping = True
        self.restarts.clear()
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _read_output(self, child: Child) -> bool:
        """Read what ``child`` wrote on its standard output: its ``listening on`` line (the parent prints the
        first child's once every child has printed one), anything else passed on. Whether it may write more."""
        try:
            chunk = os.read(child.stdout, READ_CHUNK_BYTES)
        except OSError:
            chunk = b""
        if not chunk:
            self._close_output(child)
            return False
        *lines, child.pending = (child.pending + chunk).split(b"\n")
        for line in lines:
            if line.startswith(READY_PREFIX) and not child.ready:
                child.ready = True
                self.first_line = self.first_line or line
                if self.announced:
                    log.info("process %d serves again (pid %d)", child.index, child.pid)
            else:
                _write_stdout(line + b"\n")
        everyone = self.children.values()
        if not self.announced and len(everyone) == self.count and all(other.ready for other in everyone):
            self.announced = True
            _write_stdout(self.first_line + b"\n")
        return True

    def _close_output(self, child: Child) -> None:
        if child.stdout in self._parent_fds:
            self._selector.unregister(child.stdout)
            self._parent_fds.remove(child.stdout)
            os.close(child.stdout)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            while self._read_output(child):
                pass  # what it wrote before it died; its end of the pipe is closed, so this ends
            self._on_exit(child, os.waitstatus_to_exitcode(wait_status))

    def _on_exit(self, child: Child, code: int) -> None:
        how = f"exit status {code}" if code >= 0 else f"signal {signal.Signals(-code).name}"
        if self.stopping:
            if code != 0:
                log.warning("process %d (pid %d) ended with %s while stopping", child.index, child.pid, how)
                self.exit_status = self.exit_status or EXIT_FAILED
            return
        if code == EXIT_USAGE and not self.announced:
            # Before every process serves, a start-up error is the server's: stop. Later, a replacement that cannot
            # start (its Redis is away while its siblings serve degraded) is one more death, and is tried again.
            log.error("process %d (pid %d) could not start (exit status 2): stopping", child.index, child.pid)
            self.exit_status = EXIT_USAGE
            self.stop()
            return
        now = time.monotonic()
        self.deaths.append(now)
        while self.deaths and self.deaths[0] < now - DEATH_WINDOW:
            self.deaths.popleft()
        if len(self.deaths) >= MAX_DEATHS:
            log.error(
                "process %d (pid %d) ended with %s, the %dth death within %g s: stopping",
                child.index,
                child.pid,
                how,
                len(self.deaths),
                DEATH_WINDOW,
            )
            self.exit_status = EXIT_FAILED
            self.stop()
            return
        log.warning(
            "process %d (pid %d) ended with %s: starting another in %g s",
            child.index,
            child.pid,
            how,
            self.restart_delay,
        )
        self.restarts.append((now + self.restart_delay, child.index))

    def _start_due(self) -> None:
        if self.stopping:
            return
        now = time.monotonic()
        due = [index for when, index in self.restarts if when <= now]
        self.restarts = [(when, index) for when, index in self.restarts if when > now]
        for index in due:
            self._start(index, None)


def _ignore(signum: int, frame: object) -> None:
    """A signal handler that does nothing: the signal's number reaches the parent's loop through the wakeup pipe."""


def _write_stdout(data: bytes) -> None:
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), data)


def run_processes(
    count: int,
    sockets: Sockets,
    bind: Callable[[], Sockets],
    serve: Callable[[Sockets], int],
    *,
    restart_delay: float = RESTART_DELAY,
) -> int:
    """Serve with ``count`` processes; return the parent's exit status once they have all exited.

    ``sockets`` are the listening sockets the parent bound (with ``reuse_port=True``): child 0 serves on them.
    ``bind()`` binds new ones on the same port, for the other children and for replacements. ``serve(sockets)`` runs
    in each child, serves until SIGTERM or SIGINT, and returns the child's exit status. No event loop may exist in
    this process yet: each child makes its own.
    """
    return Supervisor(count, bind, serve, restart_delay).run(sockets)
