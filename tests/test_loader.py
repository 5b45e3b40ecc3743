"""Loading plugin feeds the three ways a user can, and every start-up error, through `server.py` itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest
from websockets.sync.client import connect

from feeds import Feed
from feeds.loader import LoadError, load_target
from tools.harness import ROOT, Server

EXIT_TIMEOUT = 20.0

WEATHER = """
    from feeds import Feed, Field, Option

    class Weather(Feed):
        name = "weather"
        description = "Made-up weather."
        interval = 0.05
        fields = (Field("temp_c", "°C"), Field("wind_ms", "m/s"))
        city = Option("Oslo", "the city to report")

        def sample(self):
            return {"temp_c": 21.5 if self.city == "Oslo" else 30.0, "wind_ms": 3.2}
"""

TWO_FEEDS = """
    from feeds import Feed, feed

    class _Base(Feed):
        interval = 0.05

    class Tides(_Base):
        name = "tides"

        def sample(self):
            return {"height_m": 1.25}

    @feed("uptime", interval=0.05)
    async def uptime():
        return {"seconds": 42}
"""


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def run_server(*args: str, pythonpath: Path | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), str(ROOT)])
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT,
        check=False,
    )


def listed(*args: str, **kwargs: object) -> str:
    result = run_server("--list-feeds", *args, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    return result.stdout


def install_distribution(site: Path, entry_points: str, modules: dict[str, str]) -> None:
    """An installed distribution as pip leaves it: a module and a .dist-info folder declaring entry points."""
    for name, source in modules.items():
        write(site, name, source)
    info = site / "dashboard_extras-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dashboard-extras\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[dashboard.feeds]\n{textwrap.dedent(entry_points)}")


def test_feed_from_a_file_is_listed_with_origin_fields_interval_and_options(tmp_path: Path) -> None:
    path = write(tmp_path, "weather.py", WEATHER)
    out = listed("--feed", str(path), "--option", "weather.city=Bergen")
    assert f"weather: every 0.05 s, from file {path}" in out
    assert "  Made-up weather." in out
    assert "  fields: temp_c (°C), wind_ms (m/s)" in out
    assert "  options:\n    city=Bergen    the city to report\n    interval=0.05  seconds between samples\n" in out
    # The built-ins are listed too.
    assert "system: every 0.5 s, from built-in" in out
    assert "stocks: every 0.25 s, from built-in" in out


def test_feed_from_a_module_and_from_module_colon_class(tmp_path: Path) -> None:
    write(tmp_path, "myfeeds/__init__.py", "")
    write(tmp_path, "myfeeds/weather.py", WEATHER)
    assert "weather: every 0.05 s, from module myfeeds.weather" in listed("--feed", "myfeeds.weather", cwd=tmp_path)
    out = listed("--feed", "myfeeds.weather:Weather", pythonpath=tmp_path)
    assert "weather: every 0.05 s, from module myfeeds.weather" in out


def test_a_module_contributes_every_feed_it_defines_and_skips_underscored_bases(tmp_path: Path) -> None:
    out = listed("--feed", str(write(tmp_path, "two.py", TWO_FEEDS)))
    assert "tides: every 0.05 s" in out
    assert "uptime: every 0.05 s" in out
    assert "fields: taken from the first sample" in out
    assert "_Base" not in out


def test_file_colon_class_loads_only_that_class(tmp_path: Path) -> None:
    out = listed("--feed", f"{write(tmp_path, 'two.py', TWO_FEEDS)}:Tides")
    assert "tides:" in out
    assert "uptime:" not in out


def test_feeds_dir_loads_every_python_file(tmp_path: Path) -> None:
    write(tmp_path, "plugins/weather.py", WEATHER)
    write(tmp_path, "plugins/two.py", TWO_FEEDS)
    write(tmp_path, "plugins/notes.txt", "not python")
    write(tmp_path, "plugins/__init__.py", "")
    write(tmp_path, "plugins/_helpers.py", "RETRIES = 3\n")
    out = listed("--feeds-dir", str(tmp_path / "plugins"))
    assert {"weather:", "tides:", "uptime:"} <= {line.split(" ")[0] for line in out.splitlines()}


HELPED = """
    from feeds import Feed, Field

    from ._helpers import CITY

    class {cls}(Feed):
        name = "{name}"
        fields = (Field("temp_" + CITY),)

        def sample(self):
            return {{"temp_" + CITY: 1.0}}
"""


def test_plugins_of_one_folder_share_a_helper_module_and_folders_do_not_collide(tmp_path: Path) -> None:
    """``from ._helpers import ...`` works in a --feeds-dir folder and for --feed files; each folder's own."""
    for folder, city in (("north", "Oslo"), ("south", "Rome")):
        write(tmp_path, f"{folder}/_helpers.py", f"CITY = {city!r}\n")
        for feed_name in (f"{folder}_a", f"{folder}_b"):
            write(tmp_path, f"{folder}/{feed_name}.py", HELPED.format(cls=feed_name.title(), name=feed_name))
    out = listed("--feeds-dir", str(tmp_path / "north"), "--feed", str(tmp_path / "south/south_a.py"))
    fields = dict(re.findall(r"^(\w+): every .*\n(?:  .*\n)*?  fields: (.*)$", out, re.MULTILINE))
    assert {name: fields.get(name) for name in ("north_a", "north_b", "south_a", "south_b")} == {
        "north_a": "temp_Oslo",
        "north_b": "temp_Oslo",
        "south_a": "temp_Rome",
        "south_b": None,
    }


def test_an_absolute_import_of_a_helper_beside_the_plugin_says_how_to_import_it(tmp_path: Path) -> None:
    write(tmp_path, "plugins/_helpers.py", "CITY = 'Oslo'\n")
    write(tmp_path, "plugins/weather.py", HELPED.format(cls="Weather", name="weather").replace("from .", "from "))
    result = run_server("--feeds-dir", str(tmp_path / "plugins"), "--list-feeds")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"server.py: error: --feeds-dir {tmp_path / 'plugins'}: weather.py: cannot import "
        f"'{tmp_path / 'plugins/weather.py'}': ModuleNotFoundError: No module named '_helpers' "
        f"({tmp_path / 'plugins/weather.py'}:4); _helpers sits beside the plugin: import it relatively, "
        "from . import _helpers"
    ]


def test_the_same_file_named_twice_is_loaded_once(tmp_path: Path) -> None:
    path = write(tmp_path, "plugins/weather.py", WEATHER)
    out = listed("--feed", str(path), "--feeds-dir", str(path.parent))
    assert out.count("weather: every") == 1


def test_installed_entry_points_are_found_automatically(tmp_path: Path) -> None:
    install_distribution(
        tmp_path,
        """
        weather = extra_weather:Weather
        more = extra_more
        """,
        {"extra_weather.py": WEATHER, "extra_more.py": TWO_FEEDS},
    )
    out = listed(pythonpath=tmp_path)
    assert "weather: every 0.05 s, from entry point weather (dashboard-extras)" in out
    assert "tides: every 0.05 s, from entry point more (dashboard-extras)" in out


def test_a_plugin_feed_is_served_like_a_built_in(tmp_path: Path) -> None:
    path = write(tmp_path, "weather.py", WEATHER)
    with (
        Server("--feed", str(path), "--option", "weather.city=Rome") as server,
        connect(server.url.replace("http://", "ws://") + "ws", open_timeout=5) as ws,
    ):
        ws.send('{"op": "subscribe", "feed": "weather"}')
        messages = [orjson.loads(ws.recv(timeout=5)) for _ in range(4)]
    ticks = [message for message in messages if message["op"] == "data"]
    assert messages[0]["op"] == "subscribed"
    assert ticks
    assert ticks[0]["values"] == {"temp_c": 30.0, "wind_ms": 3.2}


def test_fields_taken_from_the_first_sample_are_served(tmp_path: Path) -> None:
    path = write(tmp_path, "two.py", TWO_FEEDS)
    with Server("--feed", str(path)) as server, connect(server.url.replace("http://", "ws://") + "ws") as ws:
        # Even in the instant before the first sample, the subscribe is not refused: it is held for that sample.
        ws.send('{"op": "subscribe", "feed": "uptime"}')
        reply = orjson.loads(ws.recv(timeout=5))
        assert reply["op"] == "subscribed", reply
        assert reply["fields"] == ["seconds"]
        tick = orjson.loads(ws.recv(timeout=5))
    assert tick["values"] == {"seconds": 42}


STARTUP_ERRORS = [
    pytest.param(
        {"broken.py": "import json\nvalue = 1 / 0\n"},
        ["--feed", "{dir}/broken.py"],
        "--feed {dir}/broken.py: cannot import '{dir}/broken.py': "
        "ZeroDivisionError: division by zero ({dir}/broken.py:2)",
        id="module-raises",
    ),
    pytest.param(
        {"syntax.py": "def f(:\n"},
        ["--feed", "{dir}/syntax.py"],
        "cannot import '{dir}/syntax.py': SyntaxError: invalid syntax ({dir}/syntax.py:1)",
        id="syntax-error",
    ),
    pytest.param(
        {},
        ["--feed", "no_such_module_here"],
        "--feed no_such_module_here: cannot import 'no_such_module_here': ModuleNotFoundError: "
        "No module named 'no_such_module_here'",
        id="no-such-module",
    ),
    pytest.param({}, ["--feed", "{dir}/missing.py"], "--feed {dir}/missing.py: no such file", id="no-such-file"),
    pytest.param({}, ["--feeds-dir", "{dir}/nowhere"], "--feeds-dir {dir}/nowhere: no such folder", id="no-such-dir"),
    pytest.param(
        {"one.py": WEATHER, "two.py": WEATHER},
        ["--feed", "{dir}/one.py", "--feed", "{dir}/two.py"],
        "two feeds named 'weather': from file {dir}/one.py and from file {dir}/two.py",
        id="duplicate-name",
    ),
    pytest.param(
        {"clash.py": WEATHER.replace('name = "weather"', 'name = "stocks"')},
        ["--feed", "{dir}/clash.py"],
        "two feeds named 'stocks': from built-in and from file {dir}/clash.py",
        id="clash-with-built-in",
    ),
    pytest.param(
        {"plain.py": "class Thing:\n    pass\n"},
        ["--feed", "{dir}/plain.py:Thing"],
        "--feed {dir}/plain.py:Thing: <class",
        id="not-a-feed",
    ),
    pytest.param(
        {"plain.py": "class Thing:\n    pass\n"},
        ["--feed", "{dir}/plain.py"],
        "--feed {dir}/plain.py: no Feed subclass defined in file {dir}/plain.py",
        id="no-feed-in-module",
    ),
    pytest.param(
        {"plain.py": "x = 1\n"},
        ["--feed", "{dir}/plain.py:Weather"],
        "--feed {dir}/plain.py:Weather: file {dir}/plain.py has no attribute 'Weather'",
        id="no-such-class",
    ),
    pytest.param(
        {"bad.py": WEATHER.replace('name = "weather"', 'name = "Bad Name"')},
        ["--feed", "{dir}/bad.py"],
        "--feed {dir}/bad.py: invalid feed name 'Bad Name' in Weather: expected 1 to 32 lowercase letters",
        id="invalid-name",
    ),
    pytest.param(
        {"anon.py": WEATHER.replace('        name = "weather"\n', "")},
        ["--feed", "{dir}/anon.py"],
        "--feed {dir}/anon.py: feed class Weather has no name: give it one, e.g. name = 'weather' (1 to 32",
        id="missing-name",
    ),
    pytest.param(
        {"twice.py": WEATHER.replace('Field("wind_ms", "m/s")', 'Field("temp_c", "K")')},
        ["--feed", "{dir}/twice.py"],
        "feed weather: field 'temp_c' is declared twice",
        id="duplicate-field",
    ),
    pytest.param(
        {"weather.py": WEATHER},
        ["--feed", "{dir}/weather.py", "--option", "weather.town=Oslo"],
        "unknown option weather.town (known: city, interval, roles, timeout)",
        id="unknown-plugin-option",
    ),
    pytest.param(
        {
            "init.py": WEATHER.replace(
                "def sample(self):",
                "def __init__(self, **o):\n            raise OSError('no')\n\n        def sample(self):",
            )
        },
        ["--feed", "{dir}/init.py"],
        "feed weather: Weather() failed: OSError: no",
        id="constructor-raises",
    ),
]


@pytest.mark.parametrize(("files", "args", "expected"), STARTUP_ERRORS)
def test_start_up_errors_are_one_line_naming_the_file_and_cause(
    tmp_path: Path, files: dict[str, str], args: list[str], expected: str
) -> None:
    for name, source in files.items():
        write(tmp_path, name, source)
    result = run_server(*(arg.format(dir=tmp_path) for arg in args), "--port", "0")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("server.py: error: ")
    assert expected.format(dir=tmp_path) in lines[0]


def test_a_broken_installed_entry_point_is_a_start_up_error(tmp_path: Path) -> None:
    install_distribution(tmp_path, "gone = not_there:Nope\n", {})
    result = run_server("--list-feeds", pythonpath=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "server.py: error: entry point gone = not_there:Nope (dashboard-extras): cannot import: "
        "ModuleNotFoundError: No module named 'not_there'"
    )


def test_no_entry_points_leaves_installed_feeds_out(tmp_path: Path) -> None:
    install_distribution(tmp_path, "gone = not_there:Nope\n", {})
    assert "system: every" in listed("--no-entry-points", pythonpath=tmp_path)


def test_load_target_returns_classes_and_origins(tmp_path: Path) -> None:
    path = write(tmp_path, "weather.py", WEATHER)
    (source,) = load_target(str(path))
    assert issubclass(source.cls, Feed)
    assert source.cls.name == "weather"
    assert source.origin == f"file {path}"
    with pytest.raises(LoadError, match="no such file"):
        load_target(str(tmp_path / "nope.py"))
