"""The example plugins in examples/feeds/: what each samples, and each run the way docs/feeds.md shows."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from tornado.web import Application, RequestHandler
from websockets.sync.client import connect

from examples.feeds.csv_tail import CsvTail
from examples.feeds.http_json import HttpJson, field_name
from examples.feeds.processes import Processes
from tools.harness import Server

DOCUMENT = {"a": 1, "b": {"c": 2.5, "d": [3, True]}, "s": "text", "9lives": 9, "with space": 4}


class DocumentHandler(RequestHandler):
    def get(self) -> None:
        self.write(DOCUMENT)


@pytest.fixture
def app() -> Application:
    """A plain JSON endpoint for the HTTP example to poll."""
    return Application([(r"/doc", DocumentHandler)])


@pytest.mark.gen_test
async def test_http_json_charts_every_number_by_its_path(http_server: object, base_url: str) -> None:
    feed = HttpJson(url=f"{base_url}/doc")
    assert await feed.sample() == {"a": 1.0, "b.c": 2.5, "b.d.0": 3.0, "_9lives": 9.0, "with_space": 4.0}


@pytest.mark.gen_test
async def test_http_json_keys_pick_numbers(http_server: object, base_url: str) -> None:
    feed = HttpJson.from_text_options({"url": f"{base_url}/doc", "keys": "b.c,a"})
    assert await feed.sample() == {"b.c": 2.5, "a": 1.0}
    missing = HttpJson(url=f"{base_url}/doc", keys=("a", "nope"))
    with pytest.raises(KeyError, match="no number at nope"):
        await missing.sample()


def test_field_names_from_json_paths_are_valid() -> None:
    assert [field_name(path) for path in ("cpu.load", "0.x", "a b/c")] == ["cpu.load", "_0.x", "a_b_c"]


@pytest.fixture
def csv_feed(tmp_path: Path) -> Iterator[tuple[CsvTail, Path]]:
    path = tmp_path / "readings.csv"
    feed = CsvTail(path=str(path))
    feed.setup()
    yield feed, path
    feed.teardown()


def append(path: Path, text: str) -> None:
    with path.open("a") as file:
        file.write(text)


def test_csv_tail_reports_the_newest_complete_row(csv_feed: tuple[CsvTail, Path]) -> None:
    feed, path = csv_feed
    path.write_text("time,sensor,temp,humidity\n")
    with pytest.raises(LookupError, match="no data row"):
        feed.sample()
    append(path, "2026-11-23T10:00:00,north,20.5,40\n2026-11-23T10:00:01,north,21,41\n")
    assert feed.sample() == {"temp": 21.0, "humidity": 41.0}
    # Nothing new: the last row stands. A line still being written waits until it is complete.
    assert feed.sample() == {"temp": 21.0, "humidity": 41.0}
    append(path, "2026-11-23T10:00:02,north,22")
    assert feed.sample() == {"temp": 21.0, "humidity": 41.0}
    append(path, ",43\n")
    assert feed.sample() == {"temp": 22.0, "humidity": 43.0}


def test_csv_tail_reads_a_truncated_file_from_the_top(csv_feed: tuple[CsvTail, Path]) -> None:
    feed, path = csv_feed
    path.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(100)))
    assert feed.sample() == {"a": 99.0, "b": 198.0}
    path.write_text("a,b\n5,6\n")
    assert feed.sample() == {"a": 5.0, "b": 6.0}


def test_csv_tail_reports_a_missing_file(tmp_path: Path) -> None:
    feed = CsvTail(path=str(tmp_path / "absent.csv"))
    feed.setup()
    with pytest.raises(FileNotFoundError):
        feed.sample()


def test_processes_counts_this_machine_and_this_server() -> None:
    feed = Processes()
    feed.setup()
    sample = feed.sample()
    assert set(sample) == {field.name for field in feed.fields}
    assert sample["processes"] >= 2
    assert sample["threads"] >= sample["processes"]
    assert 1 <= sample["server_threads"] <= sample["threads"]
    assert sample["server_memory"] > 1_000_000
    assert sample["server_files"] >= 3
    assert sample["uptime"] > 0
    assert all(math.isfinite(value) for value in sample.values())


def first_tick(url: str, feed: str) -> dict[str, object]:
    """Subscribe as a client would, once: before the feed's first sample, the subscribe is held for it."""
    with connect(url.replace("http://", "ws://") + "ws", open_timeout=5) as ws:
        ws.send(orjson.dumps({"op": "subscribe", "feed": feed}).decode())
        reply = orjson.loads(ws.recv(timeout=10))
        assert reply["op"] == "subscribed", reply
        while True:
            message = orjson.loads(ws.recv(timeout=10))
            if message["op"] == "data":
                return message  # type: ignore[no-any-return]


def test_the_documented_http_json_command_charts_another_dashboards_health() -> None:
    with Server() as polled:
        options = ("--option", f"http_json.url={polled.url}healthz", "--option", "http_json.interval=0.1")
        with Server("--feed", "examples/feeds/http_json.py", *options) as server:
            tick = first_tick(server.url, "http_json")
    assert tick["values"] == {"feeds": 2.0}


def test_the_documented_csv_tail_command_charts_the_file(tmp_path: Path) -> None:
    path = tmp_path / "readings.csv"
    path.write_text("time,value\n1700000000,41.5\n")
    options = ("--option", f"csv_tail.path={path}", "--option", "csv_tail.interval=0.1")
    with Server("--feed", "examples/feeds/csv_tail.py", *options) as server:
        tick = first_tick(server.url, "csv_tail")
    assert tick["values"] == {"time": 1700000000.0, "value": 41.5}


def test_the_documented_processes_command_charts_the_machine() -> None:
    with Server("--feed", "examples/feeds/processes.py", "--option", "processes.interval=0.1") as server:
        tick = first_tick(server.url, "processes")
    assert tick["values"]["processes"] >= 2  # type: ignore[index]
