"""The built-in ``system`` feed: this machine's CPU, memory, load, disk and network, read with psutil."""

from __future__ import annotations

import os
import time

import psutil

from .feed import Feed, Field, Sample

__all__ = ["SystemFeed"]


class SystemFeed(Feed):
    """CPU (total and per core), memory, swap, load average, and disk and network throughput."""

    name = "system"
    description = "This machine: CPU per core, memory, swap, load average, disk and network throughput."
    interval = 0.5
    per_host = True

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        cores = psutil.cpu_count() or 1
        self.fields = (
            Field("cpu", "%"),
            *(Field(f"cpu{index}", "%") for index in range(cores)),
            Field("mem", "%"),
            Field("swap", "%"),
            Field("load1"),
            Field("load5"),
            Field("load15"),
            Field("disk_read", "B/s"),
            Field("disk_write", "B/s"),
            Field("net_sent", "B/s"),
            Field("net_recv", "B/s"),
        )
        self._cores = cores
        self._counters = (0.0, 0, 0, 0, 0)

    def setup(self) -> None:
        # psutil's CPU percentages and our byte rates are measured between two calls: take the first reading now.
        psutil.cpu_percent(percpu=True)
        self._counters = self._read_counters()

    def sample(self) -> Sample:
        per_core = psutil.cpu_percent(percpu=True)[: self._cores]
        previous, self._counters = self._counters, self._read_counters()
        elapsed = max(self._counters[0] - previous[0], 1e-6)
        disk_read, disk_write, net_sent, net_recv = (
            max(now - then, 0) / elapsed for now, then in zip(self._counters[1:], previous[1:], strict=True)
        )
        load1, load5, load15 = os.getloadavg()
        return {
            "cpu": sum(per_core) / len(per_core),
            **{f"cpu{index}": value for index, value in enumerate(per_core)},
            "mem": psutil.virtual_memory().percent,
            "swap": psutil.swap_memory().percent,
            "load1": load1,
            "load5": load5,
            "load15": load15,
            "disk_read": disk_read,
            "disk_write": disk_write,
            "net_sent": net_sent,
            "net_recv": net_recv,
        }

    @staticmethod
    def _read_counters() -> tuple[float, int, int, int, int]:
        """Monotonic time and the cumulative disk and network byte counters (0 where the OS has none)."""
        disk = psutil.disk_io_counters()
        net = psutil.net_io_counters()
        return (
            time.monotonic(),
            disk.read_bytes if disk else 0,
            disk.write_bytes if disk else 0,
            net.bytes_sent if net else 0,
            net.bytes_recv if net else 0,
        )
