"""Chart the numbers of a JSON HTTP endpoint, polled with Tornado's async HTTP client.

    python server.py --feed examples/feeds/http_json.py --option http_json.url=http://127.0.0.1:8888/healthz

Every number in the document becomes a field, named by its path (``{"cpu": {"load": 1}}`` gives ``cpu.load``);
``keys`` picks some of them. The fields are fixed by the first answer: a later answer with other numbers is refused
and shows on the panel as a failure until the endpoint answers as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from tornado.httpclient import AsyncHTTPClient

from feeds import Feed, Option

INVALID_FIELD_CHARACTERS = re.compile(r"[^A-Za-z0-9_.\-]")


def numbers(document: object, path: str = "") -> Iterator[tuple[str, float]]:
    """Every number in a JSON document with its dotted path; booleans are not numbers."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from numbers(value, f"{path}.{key}" if path else str(key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from numbers(value, f"{path}.{index}" if path else str(index))
    elif isinstance(document, (int, float)) and not isinstance(document, bool):
        yield field_name(path or "value"), float(document)


def field_name(path: str) -> str:
    """A JSON path as a valid field name: other characters become '_', and it starts with a letter or '_'."""
    name = INVALID_FIELD_CHARACTERS.sub("_", path)
    return name if name[0].isalpha() or name[0] == "_" else f"_{name}"


class HttpJson(Feed):
    name = "http_json"
    description = "Numbers from a JSON HTTP endpoint, polled with Tornado's async HTTP client."
    interval = 2.0
    timeout = 5.0

    url = Option("http://127.0.0.1:8888/healthz", "the JSON endpoint to poll")
    keys = Option((), "comma-separated paths of the numbers to chart; default: every number in the answer")

    async def sample(self) -> dict[str, float]:
        response = await AsyncHTTPClient().fetch(self.url, request_timeout=self.timeout)
        found = dict(numbers(json.loads(response.body)))
        if not self.keys:
            return found
        missing = [key for key in self.keys if key not in found]
        if missing:
            raise KeyError(f"no number at {', '.join(missing)} in the answer of {self.url}")
        return {key: found[key] for key in self.keys}
