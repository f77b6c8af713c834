"""The base of every domain event: a frozen dataclass of JSON values with its type name,
schema version, upcasters and blob fields (the events themselves are in ``domain.events``
and the other ``*_events`` modules; the registry in ``domain.event_registry``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
_E = TypeVar("_E", bound="Event")
_NO_UPCASTERS: Mapping[int, Upcaster] = MappingProxyType({})


@dataclass(frozen=True)
class Event:
    """Base of every domain event.

    ``type_name`` and ``schema_version`` identify the current shape;
    ``upcasters[v]`` turns the data of version ``v`` into version ``v + 1``.
    """

    type_name: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1
    upcasters: ClassVar[Mapping[int, Upcaster]] = _NO_UPCASTERS
    # Fields that hold the sha256 of a blob, and what that blob is ("latent map"): what
    # verify checks and branch, export and import copy besides the events.
    blob_fields: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def summary(self, names: Sequence[str] = ()) -> str:
        """How the event reads in one line (``ledgerlab log``, the history panel);
        class numbers are shown by ``names``."""
        return self.type_name

    def to_data(self) -> dict[str, Any]:
        return {f.name: _to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_data(cls: type[_E], data: Mapping[str, Any]) -> _E:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: _freeze(v) for k, v in data.items() if k in names})


def _to_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


def _freeze(value: Any) -> Any:
    # Lists from JSON become tuples so decoded events stay hashable and immutable.
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value
