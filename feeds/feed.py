"""The Feed base class: what a data source declares and how it is configured.

A feed is a class with a ``name``, an ``interval`` in seconds and a ``sample()`` method returning one number per
field. Everything else (timestamps, sequence numbers, encoding, scheduling, fan-out) is the core's job.

Options are declared as class attributes with `Option` and set from the command line with
``--option FEED.KEY=VALUE``; every feed also has the ``interval`` option. Fields are declared as `Field` objects,
either on the class or, when they depend on options, by the instance in ``__init__``.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .parsers import (
    interval_seconds,
    parse_bool,
    parse_float,
    parse_int,
    parse_roles,
    parse_str_tuple,
    positive_float,
)

__all__ = [
    "MAX_FIELDS",
    "MAX_HOST_FEED_NAME",
    "MAX_NAME",
    "MAX_NODE_NAME",
    "Feed",
    "Field",
    "Option",
    "OptionError",
    "check_fields",
    "feed",
    "host_feed_name",
    "option_text",
]

MAX_NAME = 32
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# A machine's name in a cluster (--node-name): a lowercase host name, so that NAME@NODE reads like an address.
MAX_NODE_NAME = 63
NODE_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}$")
# The longest feed name a client may meet: a per-host feed's NAME@NODE.
MAX_HOST_FEED_NAME = MAX_NAME + 1 + MAX_NODE_NAME
FIELD_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
MAX_FIELD_NAME = 64
MAX_FIELDS = 256

Sample = Mapping[str, float]


def host_feed_name(name: str, node: str) -> str:
    """The name a per-host feed publishes under on machine ``node`` of a cluster: ``NAME@NODE``.

    Raises `ValueError` when ``name`` is not a feed name or ``node`` not a node name (1 to 63 lowercase letters,
    digits, '.' or '-', starting with a letter or a digit).
    """
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"invalid feed name {name!r}: expected 1 to {MAX_NAME} lowercase letters, digits or '_', "
            "starting with a letter"
        )
    if not NODE_NAME_PATTERN.match(node):
        raise ValueError(
            f"invalid node name {node!r}: expected 1 to {MAX_NODE_NAME} lowercase letters, digits, '.' or '-', "
            "starting with a letter or a digit"
        )
    return f"{name}@{node}"


class OptionError(ValueError):
    """A feed option that does not exist, or a value it does not accept."""


@dataclass(frozen=True)
class Field:
    """One numeric series of a feed, with its unit (``"%"``, ``"B/s"``, ``"$"``, ``""`` for a plain number)."""

    name: str
    unit: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not FIELD_PATTERN.match(self.name):
            raise ValueError(
                f"invalid field name {self.name!r}: expected letters, digits, '_', '.' or '-', "
                "starting with a letter or '_'"
            )
        if len(self.name) > MAX_FIELD_NAME:
            raise ValueError(f"invalid field name {self.name!r}: longer than {MAX_FIELD_NAME} characters")


def option_text(value: object) -> str:
    """An option's value as it would be written on the command line (``--option FEED.KEY=VALUE``)."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else "none" if value is None else str(value)


def check_fields(feed: Feed) -> None:
    """Raise `ValueError` when a feed's declared fields are not `Field` objects, repeat a name, or are too many."""
    names = []
    for field in feed.fields:
        if not isinstance(field, Field):
            raise ValueError(f"feed {feed.name}: fields must be Field objects, got {field!r}")
        names.append(field.name)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"feed {feed.name}: field {duplicates[0]!r} is declared twice")
    if len(names) > MAX_FIELDS:
        raise ValueError(f"feed {feed.name}: {len(names)} fields, at most {MAX_FIELDS} are allowed")


class Option:
    """A setting of a feed, with a default and a parser for its command-line text.

    The parser is taken from the default's type (bool, int, float, str, or a tuple of strings written
    comma-separated) unless ``parse`` is given. ``parse`` raises `ValueError` with a short reason for a bad value.
    On an instance, the attribute reads the configured value, or the default when none was set.
    """

    def __init__(self, default: Any, help: str = "", parse: Callable[[str], Any] | None = None) -> None:
        self.default = default
        self.help = help
        self.parse_text = parse or self._parser_for(default)
        self.name = ""

    @staticmethod
    def _parser_for(default: Any) -> Callable[[str], Any]:
        if isinstance(default, bool):
            return parse_bool
        if isinstance(default, int):
            return parse_int
        if isinstance(default, float):
            return parse_float
        if isinstance(default, str):
            return str
        if isinstance(default, tuple):
            return parse_str_tuple
        raise TypeError(f"no parser for a default of type {type(default).__name__}: pass parse=")

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        return self if instance is None else self.default


# Options every feed has, whatever it declares.
BUILTIN_OPTIONS = ("interval", "timeout")


class Feed:
    """Base class of every feed.

    A minimal feed::

        class Weather(Feed):
            name = "weather"
            interval = 2.0
            fields = (Field("temp_c", "°C"), Field("wind_ms", "m/s"))

            def sample(self):
                return {"temp_c": 21.5, "wind_ms": 3.2}

    ``sample()`` may be a plain method or ``async def``; it returns a mapping with one finite number per field.
    A plain ``sample()`` runs in a thread of its own feed, so it may block; one that takes longer than
    ``timeout`` seconds is abandoned (an async one is cancelled) and counted as a failure. ``setup()`` and
    ``teardown()`` (plain or async) open and close resources; ``setup()`` runs before the first sample (and is
    retried with a growing delay while it fails), ``teardown()`` after the last; in a cluster, once per leadership
    (a process samples a feed only while it leads it). ``take_over()`` hands a feed that starts producing on this
    process the last tick another one published.

    When ``fields`` is left empty, the fields are taken from the first accepted sample, without units, and fixed
    from then on. They travel with the feed's ticks to the hub, which answers for them (`feeds.hub.Hub.fields`);
    ``fields`` itself stays as the feed declared it.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    interval: float = 1.0
    timeout: float = 10.0
    fields: Sequence[Field] = ()
    # The roles allowed to read the feed when the server authenticates clients; empty: every client it lets in.
    roles: Sequence[str] = ()
    # True for made-up data (the built-in stocks): the page says so on the feed's panel.
    simulated: ClassVar[bool] = False
    # True for a feed that measures the machine it runs on: in a cluster each machine publishes its own, as
    # NAME@NODE (`host_feed_name`). Without a broker the name stays NAME.
    per_host: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        declared = self.options()
        for key, value in options.items():
            if key not in declared:
                raise OptionError(self._unknown_option_message(key))
            setattr(self, key, value)  # an Option is a non-data descriptor: the instance value shadows it
        for key in BUILTIN_OPTIONS:
            try:
                setattr(self, key, declared[key].parse_text(str(getattr(self, key))))
            except ValueError as exc:
                raise OptionError(f"bad value {getattr(self, key)!r} for option {self.name}.{key}: {exc}") from None
        roles = self.roles
        try:
            self.roles = parse_roles(roles if isinstance(roles, str) else ",".join(map(str, roles)))
        except ValueError as exc:
            raise OptionError(f"bad value {roles!r} for option {self.name}.roles: {exc}") from None
        self.fields = tuple(self.fields)

    @classmethod
    def options(cls) -> dict[str, Option]:
        """Every option of this feed class by name, ``interval``, ``timeout`` and ``roles`` included."""
        declared = {
            "interval": Option(cls.interval, "seconds between samples", parse=interval_seconds),
            "timeout": Option(cls.timeout, "seconds a sample may take before it is abandoned", parse=positive_float),
            "roles": Option(
                tuple(cls.roles), "roles that may read it, comma-separated; empty: any client let in", parse=parse_roles
            ),
        }
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, Option):
                    declared[key] = value
        return declared

    @classmethod
    def from_text_options(cls, texts: Mapping[str, str]) -> Feed:
        """Build the feed from ``KEY -> text`` pairs as given on the command line, parsing each value."""
        declared = cls.options()
        values = {}
        for key, text in texts.items():
            if key not in declared:
                raise OptionError(cls._unknown_option_message(key))
            try:
                values[key] = declared[key].parse_text(text)
            except ValueError as exc:
                raise OptionError(f"bad value {text!r} for option {cls.name}.{key}: {exc}") from None
        return cls(**values)

    @classmethod
    def _unknown_option_message(cls, key: str) -> str:
        known = ", ".join(sorted(cls.options()))
        return f"unknown option {cls.name}.{key} (known: {known})"

    def setup(self) -> Awaitable[None] | None:
        """Open what ``sample()`` needs. Runs once, before the first sample (in a cluster: of each leadership)."""
        return None

    def take_over(self, last: Mapping[str, float]) -> None:
        """Called before setup() when this process becomes the feed's producer in a cluster and the feed has
        published before: `last` holds the values of its last published tick, by field name. A simulation
        continues from them instead of starting over."""
        return None

    def sample(self) -> Sample | Awaitable[Sample]:
        """Return one finite number per field."""
        raise NotImplementedError(f"{type(self).__name__}.sample() is not implemented")

    def teardown(self) -> Awaitable[None] | None:
        """Close what ``setup()`` opened. Runs once, after the last sample (in a cluster: of each leadership)."""
        return None


def feed(
    name: str,
    *,
    interval: float = Feed.interval,
    fields: Sequence[Field] = (),
    description: str = "",
    timeout: float = Feed.timeout,
    simulated: bool = False,
    per_host: bool = False,
) -> Callable[[Callable[[], Any]], type[Feed]]:
    """Turn a plain function (or ``async def``) returning a sample into a feed class.

    ::

        @feed("uptime", interval=5.0, fields=(Field("seconds", "s"),))
        def uptime():
            return {"seconds": time.monotonic()}

    The decorated name is the feed class, loaded like any other. For options, setup or teardown, write a class.
    """

    def decorate(function: Callable[[], Any]) -> type[Feed]:
        sample: Callable[[Feed], Any]
        if inspect.iscoroutinefunction(function):

            async def sample_async(self: Feed) -> Any:
                return await function()

            sample = sample_async
        else:

            def sample_sync(self: Feed) -> Any:
                return function()

            sample = sample_sync
        functools.update_wrapper(sample, function)
        namespace = {
            "name": name,
            "interval": interval,
            "timeout": timeout,
            "simulated": simulated,
            "per_host": per_host,
            "fields": tuple(fields),
            "description": description or inspect.getdoc(function) or "",
            "sample": sample,
            "__module__": function.__module__,
            "__qualname__": function.__qualname__,
            "__doc__": function.__doc__,
        }
        return type(function.__name__, (Feed,), namespace)

    return decorate
