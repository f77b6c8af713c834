"""The registry that turns recorded (type, schema version, data) back into events,
upcasting old schema versions and refusing damaged data with a ``DamagedEvent``.

Built from tuples of event classes (``domain.events.CORE_EVENTS`` and the other modules'),
immutable once built; nothing is registered at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from domain.errors import DomainError
from domain.event_base import Event
from domain.event_fields import DamagedEvent, FieldCheck, data_problem, describe, field_checks


class EventRegistry:
    """Maps (type name, schema version) to an event class, upcasting old versions.

    Immutable once built; combine event modules with ``EventRegistry(CORE_EVENTS
    + TRAINING_EVENTS)`` or ``registry.extended(TRAINING_EVENTS)``.
    """

    def __init__(self, classes: Iterable[type[Event]]):
        by_name: dict[str, type[Event]] = {}
        for cls in classes:
            if not cls.type_name:
                raise TypeError(f"{cls.__name__} has no type_name")
            if by_name.get(cls.type_name, cls) is not cls:
                raise TypeError(f"two event classes are named {cls.type_name!r}")
            for v in range(1, cls.schema_version):
                if v not in cls.upcasters:
                    raise TypeError(f"{cls.type_name} lacks an upcaster from version {v}")
            by_name[cls.type_name] = cls
        self._by_name = MappingProxyType(by_name)
        # What each field must hold, from the annotations: checked by ``decode``.
        self._checks: Mapping[str, tuple[FieldCheck, ...]] = MappingProxyType(
            {name: field_checks(cls) for name, cls in by_name.items()}
        )

    def extended(self, classes: Iterable[type[Event]]) -> EventRegistry:
        return EventRegistry((*self._by_name.values(), *classes))

    def __contains__(self, type_name: str) -> bool:
        return type_name in self._by_name

    @property
    def type_names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def latest_version(self, type_name: str) -> int:
        return self._class(type_name).schema_version

    def class_for(self, type_name: str, schema_version: int) -> type[Event]:
        cls = self._class(type_name)
        if not 1 <= schema_version <= cls.schema_version:
            raise DomainError(
                f"event {type_name} has schema version {schema_version}, but this "
                f"release knows versions 1-{cls.schema_version}; the project was "
                "written by a newer Ledgerlab: upgrade to open it"
            )
        return cls

    def upcast(self, type_name: str, schema_version: int, data: Mapping[str, Any]) -> dict[str, Any]:
        """Data of any known version, brought up to the current version; a
        ``DomainError`` when the data are damaged past bringing up."""
        cls = self.class_for(type_name, schema_version)
        if not isinstance(data, Mapping):
            raise DamagedEvent(type_name, f"its data are {describe(data)} where an object belongs")
        out = dict(data)
        for v in range(schema_version, cls.schema_version):
            try:
                out = cls.upcasters[v](out)
            except (KeyError, TypeError, IndexError, ValueError, AttributeError) as exc:
                raise DamagedEvent(
                    type_name,
                    f"its data of version {v} cannot be brought to version {v + 1} "
                    f"({type(exc).__name__}: {exc})",
                ) from exc
        return out

    def blob_references(
        self, type_name: str, data: Mapping[str, Any], schema_version: int | None = None
    ) -> Iterator[tuple[str, str]]:
        """(sha256, kind) of every blob a recorded event refers to; nothing for a type
        this release does not know (its blobs cannot be named, so they are not claimed).
        ``data`` of an older ``schema_version`` is upcast first; a field may hold one
        sha256 or a list of them (e.g. "dataset chunk 2 of 9")."""
        cls = self._by_name.get(type_name)
        if cls is not None and schema_version is not None and schema_version != cls.schema_version:
            # A damaged event that cannot be brought up names what it names as it is.
            with contextlib.suppress(
                DomainError, KeyError, TypeError, IndexError, ValueError, AttributeError
            ):
                data = self.upcast(type_name, schema_version, data)
        for field_name, kind in cls.blob_fields.items() if cls is not None else ():
            value = data.get(field_name)
            if isinstance(value, list | tuple):
                shas = [sha for sha in value if isinstance(sha, str) and sha]
                for i, sha in enumerate(shas):
                    yield sha, (f"{kind} chunk {i + 1} of {len(shas)}" if len(shas) > 1 else kind)
            elif value:
                yield value, kind

    def summarize(
        self, type_name: str, schema_version: int, data: Mapping[str, Any], names: Sequence[str] = ()
    ) -> str:
        """One line for a recorded event; its type name when it cannot be read."""
        try:
            return self.decode(type_name, schema_version, data).summary(names)
        except (DomainError, KeyError, TypeError, IndexError, ValueError, AttributeError):
            return type_name  # a foreign or damaged event

    def decode(self, type_name: str, schema_version: int, data: Mapping[str, Any]) -> Event:
        """The event recorded as (type, version, data), upcast to the current version.

        Raises ``DomainError`` for a type or version this release does not know, and
        ``DamagedEvent`` (a ``DomainError``) for damaged data: a field missing or holding
        the wrong JSON type (a list where a sample number belongs), so no caller meets
        such a value later."""
        cls = self.class_for(type_name, schema_version)
        data = self.check(type_name, schema_version, data)
        try:
            return cls.from_data(data)
        except (KeyError, TypeError, IndexError, ValueError, AttributeError) as exc:
            raise DamagedEvent(type_name, f"{type(exc).__name__}: {exc}") from exc

    def check(self, type_name: str, schema_version: int, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """``data`` brought to the current version, once every field is known to hold
        the JSON type its annotation names; raises as ``decode`` does."""
        if schema_version != self.latest_version(type_name) or not isinstance(data, Mapping):
            data = self.upcast(type_name, schema_version, data)
        problem = data_problem(self._checks[type_name], data)
        if problem is not None:
            raise DamagedEvent(type_name, problem)
        return data

    def _class(self, type_name: str) -> type[Event]:
        try:
            return self._by_name[type_name]
        except KeyError:
            raise DomainError(
                f"unknown event type {type_name!r}: the project may have been written "
                "by a newer Ledgerlab; upgrade to open it"
            ) from None
