"""Domain events of a project: frozen, past-tense facts (the registry that turns
recorded (type, schema version, data) back into them is in ``domain.event_registry``).

Events are plain dataclasses whose fields are JSON values, so the log stays
portable. Metadata (annotator, time) travels beside the data, not inside it.

The registry is an immutable value built from tuples of event classes, so other
modules (e.g. ``domain/training_events.py``) add their own events by passing
their tuple alongside ``CORE_EVENTS`` -- nothing here changes and nothing is
registered at import time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from domain.event_base import Event as Event  # (imported from here everywhere)
from domain.event_base import Upcaster as Upcaster
from domain.event_registry import EventRegistry as EventRegistry  # its home before; still imported from here


def class_name(label: int, names: Sequence[str]) -> str:
    """A class number as a person reads it: its name, or "(none)" for no label."""
    return "(none)" if label < 0 else names[label] if label < len(names) else str(label)


def short_sha(sha: str | None) -> str:
    return (sha or "")[:12]


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


def core_registry() -> EventRegistry:
    return EventRegistry(CORE_EVENTS)
