"""The layering of the house style, checked on the import graph: rules written as data, each a test.

The layers, lowest first, are `LAYERS`: a module may import its own layer and those below it, never one above.
`TRANSPORT_FREE` names the layers that may not import Tornado at all, directly or through what they import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module belongs to the longest prefix that names it.
LAYERS = (
    "feeds",
    "broker",
    "handlers.security",
    "handlers.settings",
    "handlers.protocol",
    "handlers.transport",
    "handlers.endpoints",
    "server",
)
# Layers that never import Tornado: the core, its Redis adapter, and what a connection's messages mean.
TRANSPORT_FREE = ("feeds", "broker", "handlers.security", "handlers.settings", "handlers.protocol")
PROJECT = frozenset(name.split(".")[0] for name in LAYERS)


def project_modules() -> list[str]:
    """Every module of the project's packages and ``server``, dotted."""
    modules = ["server"]
    for package in ("feeds", "broker", "handlers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


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


def layer_of(module: str) -> int | None:
    """The index in `LAYERS` of the layer ``module`` belongs to; None for a module outside the project."""
    matches = [index for index, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")]
    return max(matches, key=lambda index: len(LAYERS[index]), default=None)


def test_every_module_of_the_project_is_in_a_layer() -> None:
    """A new sub-package must be placed among the layers before it can be imported from."""
    unplaced = [module for module in project_modules() if layer_of(module) is None and module != "handlers"]
    assert unplaced == []


@pytest.mark.parametrize("module", project_modules())
def test_nothing_imports_upward(module: str) -> None:
    own = layer_of(module)
    upward = {
        name
        for name in imports_of(module)
        if name.split(".")[0] in PROJECT and (layer := layer_of(name)) is not None and own is not None and layer > own
    }
    assert upward == set(), f"{module} ({LAYERS[own or 0]}) imports from a layer above it"


@pytest.mark.parametrize("module", [m for m in project_modules() if m.startswith(TRANSPORT_FREE)])
def test_transport_free_layers_import_no_tornado_directly(module: str) -> None:
    assert {name for name in imports_of(module) if name.split(".")[0] == "tornado"} == set()


@pytest.mark.parametrize("layer", TRANSPORT_FREE)
def test_transport_free_layers_load_no_tornado_at_all(layer: str) -> None:
    """Imported on their own, in a fresh interpreter, with everything they import in turn."""
    modules = [module for module in project_modules() if module.startswith(layer)]
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {', '.join(modules)}; print(' '.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(modules) <= set(loaded)
    assert [name for name in loaded if name.split(".")[0] == "tornado"] == []


def test_the_rules_catch_an_upward_import() -> None:
    """The checker itself: an import of the endpoints from the core is upward, and a Tornado import is seen."""
    assert layer_of("handlers.endpoints.app") > layer_of("feeds.hub")  # type: ignore[operator]
    assert layer_of("handlers.settings") == LAYERS.index("handlers.settings")
    assert "tornado.web" in imports_of("handlers.endpoints.app")
