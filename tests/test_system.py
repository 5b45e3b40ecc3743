"""feeds.system: this machine's metrics, read with psutil."""

from __future__ import annotations

import hashlib
import os
import tempfile

import psutil

from feeds.system import SystemFeed


def test_fields_cover_cpu_per_core_memory_load_disk_and_network() -> None:
    names = [field.name for field in SystemFeed().fields]
    cores = psutil.cpu_count()
    assert names == [
        "cpu",
        *(f"cpu{index}" for index in range(cores)),
        *("mem", "swap", "load1", "load5", "load15", "disk_read", "disk_write", "net_sent", "net_recv"),
    ]
    units = {field.name: field.unit for field in SystemFeed().fields}
    assert units["cpu"] == units["mem"] == "%"
    assert units["net_recv"] == units["disk_write"] == "B/s"
    assert units["load1"] == ""


def busy_work() -> None:
    """Burn some CPU and write a file through to disk, so that the counters have something to show."""
    digest = b""
    for _ in range(20_000):
        digest = hashlib.sha256(digest).digest()
    with tempfile.NamedTemporaryFile(dir=os.getcwd()) as scratch:
        scratch.write(os.urandom(1 << 20))
        scratch.flush()
        os.fsync(scratch.fileno())


def test_values_are_in_range_and_change() -> None:
    feed = SystemFeed()
    feed.setup()
    samples = []
    for _ in range(3):
        busy_work()
        samples.append(dict(feed.sample()))
    for sample in samples:
        assert set(sample) == {field.name for field in feed.fields}
        for name, value in sample.items():
            if name.startswith("cpu") or name in ("mem", "swap"):
                assert 0 <= value <= 100, (name, value)
            else:
                assert value >= 0, (name, value)
        assert sample["mem"] > 0
    assert any(sample["cpu"] > 0 for sample in samples)
    assert samples[0] != samples[1] != samples[2]
