"""The layering of the house style, checked: the core and the session are transport-free, data flows one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports_of(module: str) -> set[str]:
    """The modules that ``module`` (a project module, dotted) imports, absolute, relative imports resolved."""
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if (ROOT / base.replace(".", "/")).is_dir())
    return found


def test_the_session_imports_nothing_of_tornado() -> None:
    """Imported on its own, in a fresh interpreter: what a connection's messages mean needs no transport."""
    modules = subprocess.run(
        [sys.executable, "-c", "import sys, handlers.session; print(' '.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "handlers.session" in modules
    assert [name for name in modules if name.split(".")[0] == "tornado"] == []


def test_the_core_never_imports_handlers_or_tornados_web_layer() -> None:
    for path in sorted((ROOT / "feeds").glob("*.py")):
        names = imports_of(f"feeds.{path.stem}")
        assert not {name for name in names if name.split(".")[0] == "handlers"}, path.name
        assert not names & {"tornado.web", "tornado.websocket", "tornado.httpserver", "tornado.iostream"}, path.name
