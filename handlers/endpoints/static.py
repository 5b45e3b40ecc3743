"""The page and its files: ``web/`` and uPlot's ``dist/``, and nothing else, under a strict Content-Security-Policy.

`WebFiles` is Tornado's `StaticFileHandler` with a narrower idea of what a path may be: no NUL byte, no backslash,
no segment that starts with a dot (so no dotfile and no ``..``), however encoded (Tornado decodes the path before
it gets here). Such a request gets 404 and nothing is logged but its access line; Tornado alone would answer a NUL
with a 500 and a traceback. Every response says that scripts, styles and connections come from the page's own
origin only, and that no other site may frame it.
"""

from __future__ import annotations

from tornado.web import HTTPError, StaticFileHandler

from handlers.security.guard import Guard

from .base import Guarded

__all__ = ["CONTENT_SECURITY_POLICY", "WebFiles"]

# connect-src 'self' covers ws: and wss: to the page's own host and port (CSP Level 3).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class WebFiles(Guarded, StaticFileHandler):
    """Files under one folder, for the page."""

    def initialize(self, path: str, guard: Guard, default_filename: str | None = None) -> None:  # type: ignore[override]
        super().initialize(path, default_filename)
        self.initialize_guard(guard)

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.set_header("X-Frame-Options", "DENY")

    def parse_url_path(self, url_path: str) -> str:
        if "\x00" in url_path or "\\" in url_path or any(part.startswith(".") for part in url_path.split("/")):
            raise HTTPError(404)
        return super().parse_url_path(url_path)
