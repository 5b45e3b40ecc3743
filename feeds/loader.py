"""Finding feed classes: the built-ins, ``--feed`` targets, ``--feeds-dir`` folders and installed entry points.

A target names a module (``mypkg.weather``: every Feed subclass defined in it), one class
(``mypkg.weather:Weather``), or a Python file (``path/to/weather.py``, optionally ``:Weather``). Installed
distributions declare feeds in the ``dashboard.feeds`` entry-point group with the same two forms. Every problem
is a `LoadError` whose message is one line naming the file or target and the cause.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import inspect
import os
import re
import sys
import traceback
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from .feed import NAME_PATTERN, Feed

__all__ = [
    "ENTRY_POINT_GROUP",
    "FeedSource",
    "LoadError",
    "check_unique",
    "load_dir",
    "load_entry_points",
    "load_target",
]

ENTRY_POINT_GROUP = "dashboard.feeds"
# Frames of Python's import machinery say nothing about the plugin: leave them out of error locations.
IMPORT_MACHINERY = os.path.dirname(importlib.__file__)
NOT_IDENTIFIER = re.compile(r"\W")


class LoadError(Exception):
    """A feed that cannot be loaded; the message is one line naming the file or target and the cause."""


@dataclass(frozen=True)
class FeedSource:
    """A feed class and where it came from, as ``--list-feeds`` shows it."""

    cls: type[Feed]
    origin: str


def _describe_exception(exc: BaseException) -> str:
    """``ExcType: message (file:line)``, pointing at the innermost frame of the plugin's own code, on one line."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}:{exc.lineno})"
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(("<", IMPORT_MACHINERY)) and frame.filename != __file__
    ]
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}{where}" if text else f"{type(exc).__name__}{where}"


def _import_module(name: str, label: str) -> ModuleType:
    # As with `python -m`, modules in the current directory are importable.
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise LoadError(f"{label}: cannot import {name!r}: {_describe_exception(exc)}") from None


def _folder_package(folder: Path) -> str:
    """The name of a package made for one plugin folder, imported once: its modules import each other relatively
    (``from . import _helpers``), and two folders' ``_helpers.py`` never collide."""
    resolved = str(folder.resolve())
    name = f"dashboard_plugins_{zlib.crc32(resolved.encode()):08x}"
    if name not in sys.modules:
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [resolved]
        sys.modules[name] = importlib.util.module_from_spec(spec)
    return name


def _module_name(path: Path) -> str:
    stem = path.stem
    if stem.isidentifier():
        return stem
    # A file name that is no identifier (my-feed.py) still gets a name of its own in its folder's package.
    return f"{NOT_IDENTIFIER.sub('_', stem)}_{zlib.crc32(path.name.encode()):08x}"


def _import_file(path: Path, label: str) -> ModuleType:
    if not path.is_file():
        raise LoadError(f"{label}: no such file {str(path)!r}")
    # Each file is a module of its folder's package: the same file named twice (by --feed and by --feeds-dir) is
    # imported once, and two plugins called weather.py in different folders do not collide.
    module_name = f"{_folder_package(path.parent)}.{_module_name(path)}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"{label}: cannot load {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise LoadError(
            f"{label}: cannot import {str(path)!r}: {_describe_exception(exc)}{_sibling_hint(exc, path.parent)}"
        ) from None
    return module


def _sibling_hint(exc: Exception, folder: Path) -> str:
    """For ``import _helpers`` of a module that sits beside the plugin: how to import it instead."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name or "." in exc.name:
        return ""
    if not ((folder / f"{exc.name}.py").is_file() or (folder / exc.name / "__init__.py").is_file()):
        return ""
    return f"; {exc.name} sits beside the plugin: import it relatively, from . import {exc.name}"


def _checked(cls: object, label: str) -> type[Feed]:
    if not (inspect.isclass(cls) and issubclass(cls, Feed)):
        raise LoadError(f"{label}: {cls!r} is not a Feed subclass")
    if cls.name == "":
        suggested = cls.__name__.lower() if NAME_PATTERN.match(cls.__name__.lower()) else "weather"
        raise LoadError(
            f"{label}: feed class {cls.__qualname__} has no name: give it one, e.g. name = {suggested!r} "
            "(1 to 32 lowercase letters, digits or '_', starting with a letter)"
        )
    if not isinstance(cls.name, str) or not NAME_PATTERN.match(cls.name):
        raise LoadError(
            f"{label}: invalid feed name {cls.name!r} in {cls.__qualname__}: "
            "expected 1 to 32 lowercase letters, digits or '_', starting with a letter"
        )
    return cls


def feeds_in_module(module: ModuleType, where: str, label: str) -> list[type[Feed]]:
    """Every Feed subclass defined in ``module`` itself (not merely imported into it).

    Classes whose name starts with an underscore are skipped: they are bases shared by the module's feeds.
    """
    found = [
        _checked(value, label)
        for key, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, Feed)
        and value.__module__ == module.__name__
        and not key.startswith("_")
    ]
    if not found:
        raise LoadError(f"{label}: no Feed subclass defined in {where}")
    return found


def _select(module: ModuleType, class_name: str, where: str, label: str) -> list[type[Feed]]:
    if not class_name:
        return feeds_in_module(module, where, label)
    if not hasattr(module, class_name):
        raise LoadError(f"{label}: {where} has no attribute {class_name!r}")
    return [_checked(getattr(module, class_name), label)]


def load_target(target: str) -> list[FeedSource]:
    """The feeds named by one ``--feed`` value."""
    label = f"--feed {target}"
    location, _, class_name = target.partition(":")
    if location.endswith(".py") or "/" in location or "\\" in location:
        module = _import_file(Path(location), label)
        origin = f"file {location}"
    else:
        module = _import_module(location, label)
        origin = f"module {location}"
    return [FeedSource(cls, origin) for cls in _select(module, class_name, origin, label)]


def load_dir(folder: str) -> list[FeedSource]:
    """The feeds of every ``*.py`` file in ``folder`` (not its subfolders), in name order.

    Files whose name starts with an underscore (``__init__.py``, ``_helpers.py``) are not feed modules: skipped.
    """
    path = Path(folder)
    if not path.is_dir():
        raise LoadError(f"--feeds-dir {folder}: no such folder")
    sources: list[FeedSource] = []
    for file in sorted(path.glob("*.py")):
        if file.name.startswith("_"):
            continue
        label = f"--feeds-dir {folder}: {file.name}"
        module = _import_file(file, label)
        sources.extend(FeedSource(cls, f"file {file}") for cls in feeds_in_module(module, f"file {file}", label))
    return sources


def load_entry_points(group: str = ENTRY_POINT_GROUP) -> list[FeedSource]:
    """The feeds that installed distributions declare in the ``dashboard.feeds`` entry-point group."""
    sources: list[FeedSource] = []
    for point in sorted(entry_points(group=group), key=lambda point: point.name):
        distribution = point.dist.name if point.dist else "unknown distribution"
        label = f"entry point {point.name} = {point.value} ({distribution})"
        try:
            loaded = point.load()
        except Exception as exc:
            raise LoadError(f"{label}: cannot import: {_describe_exception(exc)}") from None
        if inspect.ismodule(loaded):
            classes = feeds_in_module(loaded, f"module {point.value}", label)
        else:
            classes = [_checked(loaded, label)]
        sources.extend(FeedSource(cls, f"entry point {point.name} ({distribution})") for cls in classes)
    return sources


def check_unique(sources: Iterable[FeedSource]) -> list[FeedSource]:
    """The sources in order, or `LoadError` when two feeds share a name."""
    seen: dict[str, FeedSource] = {}
    for source in sources:
        earlier = seen.get(source.cls.name)
        if earlier is not None and earlier.cls is not source.cls:
            raise LoadError(f"two feeds named {source.cls.name!r}: from {earlier.origin} and from {source.origin}")
        seen.setdefault(source.cls.name, source)
    return list(seen.values())
