"""The layering of STYLE.md, checked on the source: the core and the session are transport-free, data flows one way."""

from __future__ import annotations

import ast
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


def project_closure(module: str, besides: str) -> set[str]:
    """Everything ``module`` imports, following the project's own modules and the packages they sit in, but for the
    package ``besides``'s own ``__init__``."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        parts = current.split(".")
        # A package's __init__ runs first.
        todo.extend(".".join(parts[:index]) for index in range(1, len(parts)) if ".".join(parts[:index]) != besides)
        for name in imports_of(current):
            if (ROOT / (name.replace(".", "/") + ".py")).exists() or (ROOT / name.replace(".", "/")).is_dir():
                todo.append(name)
            else:
                seen.add(name)
    return seen


def test_the_session_imports_nothing_of_tornado() -> None:
    # The package's __init__ (the route table) is not the session's: a transport-free user imports the module alone.
    closure = project_closure("handlers.session", besides="handlers")
    reached = {name for name in closure if name.split(".")[0] == "tornado"}
    assert reached == set(), sorted(closure)


def test_the_core_never_imports_handlers_or_tornados_web_layer() -> None:
    for path in sorted((ROOT / "feeds").glob("*.py")):
        names = imports_of(f"feeds.{path.stem}")
        assert not {name for name in names if name.split(".")[0] == "handlers"}, path.name
        assert not names & {"tornado.web", "tornado.websocket", "tornado.httpserver", "tornado.iostream"}, path.name
