"""handlers.endpoints.static: the page's files and nothing else, whatever the path, no traceback for a bad one."""

from __future__ import annotations

import asyncio
import logging

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

ROUTES = ("/static/", "/vendor/uplot/")
# Paths as they go on the wire: Tornado decodes %-escapes before the handler sees them.
BAD = (
    "%00",
    "..%00",
    "js%00.js",
    "..",
    "../server.py",
    "%2e%2e/server.py",
    "%2E%2E%2Fserver.py",
    "js/%2e%2e/%2e%2e/README.md",
    "..%2f..%2fsetup.cfg",
    "..%5c..%5csetup.cfg",
    ".gitignore",
    "js/.hidden",
    "%2egit/config",
)


async def status(port: int, path: str) -> int:
    # Sent as written: a client library would normalize the dots away before the server could refuse them.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    head = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(head.split()[1])


@pytest.mark.gen_test
@pytest.mark.parametrize("route", ROUTES)
async def test_a_path_outside_the_folder_a_dotfile_or_a_nul_is_not_found_and_logs_no_traceback(
    http_server: object, http_port: int, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        for path in BAD:
            assert await status(http_port, route + path) in (400, 404), path
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]
    # At most the access line: nothing else per request.
    assert all(record.name == "tornado.access" for record in caplog.records)


@pytest.mark.gen_test
async def test_the_page_its_scripts_and_the_chart_library_are_served(http_server: object, http_port: int) -> None:
    client = AsyncHTTPClient()
    for path in ("/", "/static/js/main.js", "/static/style.css", "/vendor/uplot/uPlot.esm.js"):
        response = await client.fetch(f"http://127.0.0.1:{http_port}{path}")
        assert response.code == 200, path
    with pytest.raises(HTTPClientError) as missing:
        await client.fetch(f"http://127.0.0.1:{http_port}/static/nope.js")
    assert missing.value.code == 404
