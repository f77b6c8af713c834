"""Domain events of a project: frozen, past-tense facts, and the registry that
turns recorded (type, schema version, data) back into them.

Events are plain dataclasses whose fields are JSON values, so the log stays
portable. Metadata (annotator, time) travels beside the data, not inside it.

The registry is an immutable value built from tuples of event classes, so other
modules (e.g. ``domain/training_events.py``) add their own events by passing
their tuple alongside ``CORE_EVENTS`` -- nothing here changes and nothing is
registered at import time.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from domain.errors import DomainError
from domain.event_fields import DamagedEvent, FieldCheck, data_problem, describe, field_checks

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


def class_name(label: int, names: Sequence[str]) -> str:
    """A class number as a person reads it: its name, or "(none)" for no label."""
    return "(none)" if label < 0 else names[label] if label < len(names) else str(label)


def short_sha(sha: str | None) -> str:
    return (sha or "")[:12]


def _to_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


def _freeze(value: Any) -> Any:
    # Lists from JSON become tuples so decoded events stay hashable and immutable.
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


# --- project -----------------------------------------------------------------


def _project_created_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # v1 (the first draft of the format) called the class list "classes" and
    # did not describe where the dataset came from.
    new = {k: v for k, v in data.items() if k != "classes"}
    new["class_names"] = list(data.get("classes", []))
    new.setdefault("source", "unknown (recorded before sources were kept)")
    return new


def _project_created_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    # v2 stored the whole dataset as the one blob ``dataset_sha256``: one chunk.
    new = dict(data)
    new.setdefault("dataset_chunks", [data.get("dataset_sha256")])
    shape = data.get("shape") or [0]
    new.setdefault("chunk_samples", shape[0] if isinstance(shape, list | tuple) else 0)
    return new


@dataclass(frozen=True)
class ProjectCreated(Event):
    """A project was created over a dataset (uint8, ``shape``) whose content, as one
    .npy array, has the sha256 ``dataset_sha256``. It is stored as the blobs
    ``dataset_chunks``: .npy arrays of ``chunk_samples`` consecutive images each (the
    last may hold fewer). Before version 3 the one chunk was the whole dataset.
    Images larger than a thumbnail have thumbnails (uint8, ``thumbnail_shape``, longest
    side 128 px, for display) stored as ``thumbnail_chunks`` of ``thumbnail_samples``
    images each; none (the default, and every project made before them): the viewer
    shows the images themselves."""

    type_name: ClassVar[str] = "ProjectCreated"
    schema_version: ClassVar[int] = 3
    upcasters: ClassVar[Mapping[int, Upcaster]] = MappingProxyType(
        {1: _project_created_v1_to_v2, 2: _project_created_v2_to_v3}
    )
    blob_fields: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"dataset_chunks": "dataset", "thumbnail_chunks": "thumbnail"}
    )

    name: str
    dataset_sha256: str
    shape: tuple[int, ...]
    class_names: tuple[str, ...]
    source: str
    dataset_chunks: tuple[str, ...] = ()
    chunk_samples: int = 0
    thumbnail_chunks: tuple[str, ...] = ()
    thumbnail_samples: int = 0
    thumbnail_shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.dataset_chunks:  # made without chunks: the dataset is one blob
            object.__setattr__(self, "dataset_chunks", (self.dataset_sha256,))
            object.__setattr__(self, "chunk_samples", int(self.shape[0]) if self.shape else 0)

    def summary(self, names: Sequence[str] = ()) -> str:
        return (
            f"created {self.name!r}: {self.shape[0]} samples, "
            f"classes {', '.join(self.class_names) or '(none)'}"
        )


@dataclass(frozen=True)
class ClassAdded(Event):
    type_name: ClassVar[str] = "ClassAdded"
    index: int
    name: str

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"added class {self.index}={self.name}"


@dataclass(frozen=True)
class ClassRenamed(Event):
    """Labels refer to class numbers, so a rename changes no label."""

    type_name: ClassVar[str] = "ClassRenamed"
    index: int
    old_name: str
    new_name: str

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"renamed class {self.index}: {self.old_name} -> {self.new_name}"


@dataclass(frozen=True)
class LatentMapComputed(Event):
    """A 2-D map of all samples was stored as the blob ``map_sha256``
    (float32, samples x dims). ``run_id`` is None for maps not made by a model."""

    type_name: ClassVar[str] = "LatentMapComputed"
    blob_fields: ClassVar[Mapping[str, str]] = MappingProxyType({"map_sha256": "latent map"})
    map_sha256: str
    samples: int
    dims: int
    method: str
    run_id: str | None = None

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"latent map ({self.method}" + (f", run {self.run_id})" if self.run_id else ")")


# --- labels ------------------------------------------------------------------
# Labels are class numbers; -1 means "no label". ``previous`` records what the
# sample had before, so the log reads as a full audit trail and undo needs no
# search through history.


@dataclass(frozen=True)
class LabelAssigned(Event):
    type_name: ClassVar[str] = "LabelAssigned"
    sample: int
    label: int
    previous: int

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"sample {self.sample}: {class_name(self.previous, names)} -> {class_name(self.label, names)}"


@dataclass(frozen=True)
class LabelRemoved(Event):
    type_name: ClassVar[str] = "LabelRemoved"
    sample: int
    previous: int

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"sample {self.sample}: {class_name(self.previous, names)} -> (none)"


@dataclass(frozen=True)
class LabelsAssigned(Event):
    """One label given to many samples in one step (undone as one step)."""

    type_name: ClassVar[str] = "LabelsAssigned"
    samples: tuple[int, ...]
    label: int
    previous: tuple[int, ...]

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"{len(self.samples)} samples -> {class_name(self.label, names)}"


@dataclass(frozen=True)
class LabelChangeUndone(Event):
    """The label change recorded at position ``change`` was undone: each of
    ``samples`` went from ``previous`` back to ``labels``. Samples changed by
    someone else since then are left alone and so are not listed."""

    type_name: ClassVar[str] = "LabelChangeUndone"
    change: int
    samples: tuple[int, ...]
    labels: tuple[int, ...]
    previous: tuple[int, ...]

    def summary(self, names: Sequence[str] = ()) -> str:
        return _moves("undid", self.change, self.samples, self.labels, self.previous, names)


@dataclass(frozen=True)
class LabelChangeRedone(Event):
    """The undone change at position ``change`` was applied again."""

    type_name: ClassVar[str] = "LabelChangeRedone"
    change: int
    samples: tuple[int, ...]
    labels: tuple[int, ...]
    previous: tuple[int, ...]

    def summary(self, names: Sequence[str] = ()) -> str:
        return _moves("redid", self.change, self.samples, self.labels, self.previous, names)


@dataclass(frozen=True)
class LabelConfirmed(Event):
    """An annotator gave ``samples`` the class ``label`` they already had from someone
    else: they agree. No label changes, so undo passes over it; it is on record for the
    annotators' agreement (it counts as this annotator's label of those samples). Giving
    one's own standing label again records nothing."""

    type_name: ClassVar[str] = "LabelConfirmed"
    samples: tuple[int, ...]
    label: int

    def summary(self, names: Sequence[str] = ()) -> str:
        which = f"sample {self.samples[0]}" if len(self.samples) == 1 else f"{len(self.samples)} samples"
        return f"{which}: confirmed {class_name(self.label, names)}"


# --- lineage -----------------------------------------------------------------


@dataclass(frozen=True)
class ProjectBranched(Event):
    """This project was branched from another: the events before this one are a copy
    of the parent's log up to ``parent_position`` (with the blobs they reference).
    ``parent_head_hash`` is the parent's chain hash at that position, so the parent
    state a branch came from can be identified even after the parent grew."""

    type_name: ClassVar[str] = "ProjectBranched"
    parent_path: str
    parent_position: int
    parent_head_hash: str
    parent_name: str = ""

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"branched from {self.parent_path} at position {self.parent_position}"


def _moves(
    verb: str,
    change: int,
    samples: Sequence[int],
    labels: Sequence[int],
    previous: Sequence[int],
    names: Sequence[str],
) -> str:
    moves = ", ".join(
        f"sample {s}: {class_name(p, names)} -> {class_name(lab, names)}"
        for s, lab, p in zip(samples, labels, previous)
    )
    return f"{verb} the change at position {change}" + (
        f" ({moves})" if moves else " (changed since by others: nothing to put back)"
    )


CORE_EVENTS: tuple[type[Event], ...] = (
    ProjectCreated,
    ClassAdded,
    ClassRenamed,
    LatentMapComputed,
    LabelAssigned,
    LabelRemoved,
    LabelsAssigned,
    LabelChangeUndone,
    LabelChangeRedone,
    LabelConfirmed,
    ProjectBranched,
)

LABEL_CHANGES = frozenset({"LabelAssigned", "LabelRemoved", "LabelsAssigned"})


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


def core_registry() -> EventRegistry:
    return EventRegistry(CORE_EVENTS)
