"""What runs on this machine, beyond the system feed's CPU and memory: processes, threads, and this server itself.

python server.py --feed examples/feeds/processes.py
"""

from __future__ import annotations

import time

import psutil

from feeds import Feed, Field


class Processes(Feed):
    name = "processes"
    description = "Processes and threads on this machine, and this server's own memory, threads and open files."
    interval = 2.0
    fields = (
        Field("processes"),
        Field("running"),
        Field("threads"),
        Field("server_memory", "B"),
        Field("server_threads"),
        Field("server_files"),
        Field("uptime", "s"),
    )

    def setup(self) -> None:
        self._server = psutil.Process()

    def sample(self) -> dict[str, float]:
        processes = running = threads = 0
        for process in psutil.process_iter(["status", "num_threads"]):
            processes += 1
            running += process.info["status"] == psutil.STATUS_RUNNING
            threads += process.info["num_threads"] or 0
        with self._server.oneshot():
            memory = self._server.memory_info().rss
            server_threads = self._server.num_threads()
            server_files = self._server.num_fds()
        return {
            "processes": processes,
            "running": running,
            "threads": threads,
            "server_memory": memory,
            "server_threads": server_threads,
            "server_files": server_files,
            "uptime": time.time() - psutil.boot_time(),
        }
