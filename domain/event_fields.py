"""The JSON types a recorded event's fields and metadata must hold, checked once where
events are decoded (``EventRegistry.decode``) and where a log is searched for damage.

A recorded event comes from a file, so any field may hold anything JSON can: a list
where a sample number belongs, a dict where a time belongs. The field annotations of
each event dataclass say what belongs there (``str``, ``int`` -- not ``bool`` --,
``float``, ``bool``, ``X | None``, ``tuple[X, ...]``, ``dict[str, X]``, ``Any``);
``field_checks`` turns them into checks once per registry, so reading an event costs
a few ``isinstance`` calls and a damaged one is named by its field instead of failing
somewhere far from the file.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from domain.errors import DomainError

Check = Callable[[Any], bool]


class DamagedEvent(DomainError):
    """A recorded event whose data do not fit its type (``problem`` says how);
    ``position`` is set by a reader that knows where the event is."""

    def __init__(self, type_name: str, problem: str) -> None:
        self.type_name, self.problem = type_name, problem
        self.position: int | None = None
        super().__init__(
            f"a recorded {type_name} event is damaged ({problem}); verify the project "
            "to find its position and the ways out"
        )


class FieldCheck(NamedTuple):
    name: str
    required: bool
    fits: Check
    expected: str  # what belongs there, as a person reads it ("a whole number")


def field_checks(cls: type) -> tuple[FieldCheck, ...]:
    """The checks of the fields of the event dataclass ``cls``. A field whose type
    cannot be resolved or is not one of the JSON shapes above accepts anything."""
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):  # an annotation that does not resolve: do not guess
        hints = {}
    checks = []
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name, Any)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        checks.append(FieldCheck(f.name, required, _check(hint), _expected(hint)))
    return tuple(checks)


def data_problem(checks: tuple[FieldCheck, ...], data: Mapping[str, Any]) -> str | None:
    """What is wrong with an event's (upcast) ``data``, or None when every field fits."""
    for c in checks:
        if c.name not in data:
            if c.required:
                return f"it lacks the field {c.name!r}"
        elif not c.fits(data[c.name]):
            return f"its field {c.name!r} holds {describe(data[c.name])} where {c.expected} belongs"
    return None


# Metadata the application writes beside every event, and what each key must hold.
_TEXT = "text"
_TIME = "a time (a finite number of seconds)"
METADATA_FIELDS: Mapping[str, tuple[Check, str]] = types.MappingProxyType(
    {
        "annotator": (lambda v: isinstance(v, str), _TEXT),
        "at": (lambda v: _is_number(v) and math.isfinite(v), _TIME),
        "command": (lambda v: isinstance(v, str), _TEXT),
    }
)


def metadata_problem(metadata: Any) -> str | None:
    """What is wrong with an event's metadata (keys it does not know are left alone)."""
    if not isinstance(metadata, Mapping):
        return f"its metadata is {describe(metadata)} where an object belongs"
    for key, (fits, expected) in METADATA_FIELDS.items():
        if key in metadata and not fits(metadata[key]):
            return f"its metadata {key!r} holds {describe(metadata[key])} where {expected} belongs"
    return None


def describe(value: Any) -> str:
    """What kind of JSON value ``value`` is, in a few words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value!r}" if len(repr(value)) <= 24 else "a number"
    if isinstance(value, str):
        return f"the text {value!r}" if len(value) <= 24 else "a text"
    if isinstance(value, list | tuple):
        return "an empty list" if not value else "a list"
    if isinstance(value, Mapping):
        return "an object (a dict)"
    return f"a {type(value).__name__}"


# --- from annotations to checks --------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_SCALARS: Mapping[Any, tuple[Check, str, str]] = types.MappingProxyType(
    {
        str: (lambda v: isinstance(v, str), "text", "texts"),
        int: (_is_int, "a whole number", "whole numbers"),
        float: (_is_number, "a number", "numbers"),
        bool: (lambda v: isinstance(v, bool), "true or false", "true/false values"),
        type(None): (lambda v: v is None, "null", "nulls"),
    }
)


def _anything(v: Any) -> bool:
    return True


def _check(hint: Any) -> Check:
    if hint in _SCALARS:
        return _SCALARS[hint][0]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        arms = tuple(_check(a) for a in args)
        return lambda v: any(fits(v) for fits in arms)
    if origin in (tuple, list) and (origin is list or (len(args) == 2 and args[1] is Ellipsis)):
        item = _check(args[0]) if args else _anything
        return lambda v: isinstance(v, list | tuple) and all(item(x) for x in v)
    if origin is tuple and args:
        items = tuple(_check(a) for a in args)
        return lambda v: (
            isinstance(v, list | tuple) and len(v) == len(items) and all(f(x) for f, x in zip(items, v))
        )
    if origin is dict or hint is dict:
        key = _check(args[0]) if args else _anything
        value = _check(args[1]) if len(args) == 2 else _anything
        return lambda v: isinstance(v, Mapping) and all(key(k) and value(x) for k, x in v.items())
    return _anything  # Any, or a shape this module does not know


def _expected(hint: Any, plural: bool = False) -> str:
    if hint in _SCALARS:
        _, one, many = _SCALARS[hint]
        return many if plural else one
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_expected(a, plural) for a in args)
    if origin in (tuple, list) and args and (origin is list or args[-1] is Ellipsis):
        return ("lists" if plural else "a list") + f" of {_expected(args[0], plural=True)}"
    if origin is tuple and args:
        return f"lists of {len(args)} items" if plural else f"a list of {len(args)} items"
    if origin is dict or hint is dict:
        inner = f" of {_expected(args[1], plural=True)}" if len(args) == 2 and args[1] is not Any else ""
        return ("objects" if plural else "an object") + inner
    return "values" if plural else "a value"
