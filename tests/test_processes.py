"""handlers.transport.processes: N real processes on one port, started, stopped and replaced by their parent.

The children here serve a trivial TCP server (tests/processes_echo.py) that answers each connection with its pid,
so that a test can tell which process accepted it.
"""

from __future__ import annotations

import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tools.harness import ROOT

START_TIMEOUT_S = 20.0
# Enough connections that each of two processes gets some: the kernel spreads them by a hash of their ports.
CONNECTIONS = 200


class Parent:
    """``python -m tests.processes_echo COUNT MODE`` with its output read as it comes."""

    def __init__(self, count: int, mode: str = "serve") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.processes_echo", str(count), mode],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.output = {"stdout": b"", "stderr": b""}

    def read_until(self, stream: str, text: bytes, timeout: float = START_TIMEOUT_S) -> None:
        """Read the parent's output until ``stream`` (stdout or stderr) holds ``text``; fail at the timeout or EOF."""
        pipes = {"stdout": self.process.stdout, "stderr": self.process.stderr}
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for name, pipe in pipes.items():
                selector.register(pipe, selectors.EVENT_READ, name)  # type: ignore[arg-type]
            while text not in self.output[stream]:
                remaining = deadline - time.monotonic()
                events = selector.select(remaining) if remaining > 0 else []
                assert events, f"no {text!r} on {stream} in {timeout} s: {self.output}"
                for key, _ in events:
                    chunk = key.fileobj.read1(4096)  # type: ignore[union-attr]
                    if not chunk:
                        selector.unregister(key.fileobj)
                        assert selector.get_map(), f"the parent closed its output before {text!r}: {self.output}"
                    self.output[key.data] += chunk

    @property
    def port(self) -> int:
        line = self.output["stdout"].split(b"\n")[0]
        return int(line.rsplit(b":", 1)[1].rstrip(b"/"))

    def children(self) -> list[int]:
        return sorted(child.pid for child in psutil.Process(self.process.pid).children())

    def wait(self) -> int:
        status = self.process.wait(START_TIMEOUT_S)
        for name in ("stdout", "stderr"):
            pipe = getattr(self.process, name)
            if not pipe.closed:
                self.output[name] += pipe.read()
                pipe.close()
        return status

    def close(self) -> None:
        if self.process.poll() is None:
            for pid in self.children():
                psutil.Process(pid).kill()
            self.process.kill()
        self.wait()


@pytest.fixture
def parent() -> Iterator[Parent]:
    started = Parent(2)
    started.read_until("stdout", b"listening on ")
    yield started
    started.close()


def pids_answering(port: int, count: int = CONNECTIONS) -> set[int]:
    answered = set()
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            answered.add(int(connection.recv(64)))
    return answered


def test_the_processes_share_one_port_and_the_parent_prints_one_line(parent: Parent) -> None:
    children = parent.children()
    assert len(children) == 2
    assert parent.output["stdout"] == f"listening on tcp://127.0.0.1:{parent.port}/\n".encode()
    assert pids_answering(parent.port) == set(children)


def test_sigterm_to_the_parent_stops_every_process_and_it_exits_0(parent: Parent) -> None:
    children = parent.children()
    parent.process.send_signal(signal.SIGTERM)
    assert parent.wait() == 0
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in children)
    assert b"stopping 2 server processes" in parent.output["stderr"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", parent.port), timeout=5)


def test_sigint_to_the_parent_reaches_each_process_once(parent: Parent) -> None:
    parent.process.send_signal(signal.SIGINT)
    assert parent.wait() == 0


def test_a_killed_process_is_replaced_on_the_same_port(parent: Parent) -> None:
    killed, kept = parent.children()
    psutil.Process(killed).kill()
    parent.read_until("stderr", b"serves again")
    assert b"ended with signal SIGKILL: starting another in 0.05 s" in parent.output["stderr"]
    replaced = parent.children()
    assert kept in replaced and killed not in replaced and len(replaced) == 2
    assert pids_answering(parent.port) == set(replaced)
    assert parent.output["stdout"].count(b"listening on") == 1
    parent.process.send_signal(signal.SIGTERM)
    assert parent.wait() == 0


def test_the_parent_gives_up_after_five_deaths_within_a_minute() -> None:
    crashing = Parent(2, "crash")
    try:
        assert crashing.wait() == 1
    finally:
        crashing.close()
    assert crashing.output["stderr"].count(b"ended with exit status 1: starting another") == 4
    assert b"the 5th death within 60 s: stopping" in crashing.output["stderr"]
    assert b"listening on" not in crashing.output["stdout"]


def test_a_start_up_error_in_a_process_stops_them_all_with_status_2() -> None:
    failing = Parent(2, "usage")
    try:
        assert failing.wait() == 2
    finally:
        failing.close()
    assert b"processes_echo: error: a start-up error" in failing.output["stderr"]
    assert b"could not start (exit status 2): stopping" in failing.output["stderr"]


def test_a_replacement_that_cannot_start_while_the_others_serve_is_tried_again(tmp_path: Path) -> None:
    """In a cluster whose Redis is away, a process that dies is replaced by one that cannot reach Redis at start
    (status 2): the ones still serving their clients are kept, and the replacement is tried again."""
    marker = tmp_path / "redis-is-away"
    parent = Parent(2, f"usage-if:{marker}")
    try:
        parent.read_until("stdout", b"listening on")
        killed, kept = parent.children()
        marker.touch()
        psutil.Process(killed).kill()
        parent.read_until("stderr", b"ended with exit status 2: starting another")
        marker.unlink()
        parent.read_until("stderr", b"serves again")
        replaced = parent.children()
        assert kept in replaced and len(replaced) == 2
        assert pids_answering(parent.port) == set(replaced)
        parent.process.send_signal(signal.SIGTERM)
        assert parent.wait() == 0
    finally:
        parent.close()
