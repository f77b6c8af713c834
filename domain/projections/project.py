"""ProjectProjections: every read model of a project, folded in one pass.

Dispatch is a dict from event type to the handlers that care, so events nobody
handles (e.g. training events of a newer module) cost one dict lookup. Old
schema versions are upcast through the registry before any handler sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import groupby, islice, takewhile
from operator import attrgetter
from typing import Any, NamedTuple, Protocol

import numpy as np

from domain.errors import DomainError
from domain.events import EventRegistry
from domain.projections import codec
from domain.projections.batch import LabelRun
from domain.projections.labels import LabelSet
from domain.projections.project_info import LatentMap, ProjectInfo
from domain.projections.recorded import Recorded
from domain.projections.training import TrainingRuns
from domain.projections.undo import UNDO_DEPTH, UndoHistory

SNAPSHOT_FORMAT = 1
BATCH_THRESHOLD = 64  # shorter runs of label events are folded one by one
_CHUNK = 65_536
_TYPE_VERSION = attrgetter("type", "schema_version")
_TYPE = attrgetter("type")
_SCHEMA_VERSION = attrgetter("schema_version")


class UpcastEvent(NamedTuple):
    """A recorded event whose data was brought up to the current schema."""

    position: int
    stream_id: str
    version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: Mapping[str, Any]
    recorded_at: float


class ReadModel(Protocol):
    """What a read model of another module offers to be folded with the core ones."""

    name: str
    position: int

    @property
    def handlers(self) -> Mapping[Any, Callable[[Any], None]]:
        """Event class (or, for now, type name) -> what to do with a recorded one."""

    def snapshot(self) -> bytes: ...


class ReadModelClass(Protocol):
    name: str

    def __call__(self) -> ReadModel: ...

    def restore(self, payload: bytes) -> ReadModel: ...


class ProjectProjections:
    """The label set, project info, latent map, undo history, event count and
    the version of the project stream, all as of ``position``.

    Other modules add read models without touching this one: ``extra_parts`` are
    classes with a no-argument constructor and the same protocol as the parts
    here (``name``, ``handlers``, ``position``, ``snapshot()``, ``restore(bytes)``);
    each is in ``extras`` under its ``name``; the training runs are ``state.training``.
    """

    def __init__(
        self,
        registry: EventRegistry,
        stream_id: str = "project",
        undo_depth: int = UNDO_DEPTH,
        batch_threshold: int = BATCH_THRESHOLD,
        extra_parts: tuple[ReadModelClass, ...] = (),
    ) -> None:
        self.registry = registry
        self.stream_id = stream_id
        self.batch_threshold = batch_threshold
        self.position = 0
        self.event_count = 0
        self.stream_version = 0
        self.info = ProjectInfo()
        self.labels = LabelSet()
        self.history = UndoHistory(undo_depth)
        self.latent_map = LatentMap()
        self.extra_parts = tuple(extra_parts)
        self.extras: dict[str, Any] = {cls.name: cls() for cls in self.extra_parts}
        self._build_table()

    @property
    def parts(self) -> tuple[Any, ...]:
        return (self.info, self.labels, self.history, self.latent_map, *self.extras.values())

    @property
    def training(self) -> TrainingRuns:
        """The training runs, folded when the composition root adds them (it always does;
        a bare ProjectProjections, as some tools build, has none)."""
        part = self.extras.get("training")
        if not isinstance(part, TrainingRuns):
            raise AttributeError(f"{type(self).__name__} was built without the training read model")
        return part

    def _build_table(self) -> None:
        table: dict[str, tuple[int, tuple[Callable[[Any], None], ...]]] = {}
        for part in self.parts:
            for event_class, handler in part.handlers.items():
                # Read models name the event classes they fold; the table is keyed by the
                # type name a recorded event carries, so a fold is one dict lookup.
                type_name = event_class if isinstance(event_class, str) else event_class.type_name
                latest = self.registry.latest_version(type_name)
                table[type_name] = (latest, table.get(type_name, (0, ()))[1] + (handler,))
        self._table = table
        self._label_version = self.registry.latest_version("LabelAssigned")
        # Bulk folding knows the label set and the undo history only.
        self._label_bulk = len(table["LabelAssigned"][1]) == 2

    def apply(self, events: Iterable[Any], until: int | None = None) -> int:
        """Fold recorded events that follow ``self.position``, in order, stopping
        after position ``until``. Returns how many were applied."""
        if until is not None:
            events = takewhile(lambda e: e.position <= until, events)
        events = iter(events)
        count = 0
        try:
            while chunk := list(islice(events, _CHUNK)):
                # A big log is mostly label events: test whole chunks at C speed.
                if (
                    self._label_bulk
                    and len(chunk) >= self.batch_threshold
                    and list(map(_TYPE, chunk)).count("LabelAssigned") == len(chunk)
                    and list(map(_SCHEMA_VERSION, chunk)).count(self._label_version) == len(chunk)
                ):
                    self._fold_label_run(chunk)
                    count += len(chunk)
                    continue
                for (type_name, version), group in groupby(chunk, key=_TYPE_VERSION):
                    run = list(group)
                    if (
                        self._label_bulk
                        and type_name == "LabelAssigned"
                        and version == self._label_version
                        and len(run) >= self.batch_threshold
                    ):
                        self._fold_label_run(run)
                    else:
                        self._fold_each(run)
                    count += len(run)
        finally:
            # Even if an event cannot be folded, what was folded stays consistent.
            self.event_count += count
            for part in self.parts:
                part.position = self.position
        return count

    def _fold_each(self, run: list[Any]) -> None:
        table = self._table
        stream_id = self.stream_id
        for e in run:
            entry = table.get(e.type)
            if entry is not None:
                if e.schema_version != entry[0]:
                    e = self._upcast(e)
                for handler in entry[1]:
                    handler(e)
            if e.stream_id == stream_id:
                self.stream_version = e.version
            self.position = e.position

    def _fold_label_run(self, run: list[Any]) -> None:
        label_run = LabelRun(run)
        self.labels.fold_label_run(label_run)
        self.history.fold_label_run(label_run)
        for e in reversed(run):
            if e.stream_id == self.stream_id:
                self.stream_version = e.version
                break
        self.position = run[-1].position

    def _upcast(self, e: Recorded) -> UpcastEvent:
        data = self.registry.upcast(e.type, e.schema_version, e.data)
        latest = self.registry.latest_version(e.type)
        return UpcastEvent(
            e.position, e.stream_id, e.version, e.type, latest, data, e.metadata, e.recorded_at
        )

    # --- snapshots -------------------------------------------------------------

    def snapshot(self) -> bytes:
        header = {
            "format": SNAPSHOT_FORMAT,
            "position": self.position,
            "event_count": self.event_count,
            "stream_id": self.stream_id,
            "stream_version": self.stream_version,
            "extras": list(self.extras),
        }
        parts = {p.name: np.frombuffer(p.snapshot(), dtype=np.uint8) for p in self.parts}
        return codec.pack(header, parts)

    @classmethod
    def restore(
        cls,
        payload: bytes,
        registry: EventRegistry,
        batch_threshold: int = BATCH_THRESHOLD,
        extra_parts: tuple[ReadModelClass, ...] = (),
    ) -> ProjectProjections:
        header, parts = codec.unpack(payload)
        if header.get("format") != SNAPSHOT_FORMAT:
            raise DomainError(
                f"snapshot format {header.get('format')} is not {SNAPSHOT_FORMAT}; replay the log"
            )
        missing = [p.name for p in extra_parts if p.name not in parts]
        if missing:
            raise DomainError(f"snapshot lacks the read models {missing}; replay the log")
        self = cls(registry, header["stream_id"], batch_threshold=batch_threshold)
        self.position = header["position"]
        self.event_count = header["event_count"]
        self.stream_version = header["stream_version"]
        self.info = ProjectInfo.restore(parts["info"].tobytes())
        self.labels = LabelSet.restore(parts["labels"].tobytes())
        self.history = UndoHistory.restore(parts["undo"].tobytes())
        self.latent_map = LatentMap.restore(parts["latent_map"].tobytes())
        self.extra_parts = tuple(extra_parts)
        self.extras = {p.name: p.restore(parts[p.name].tobytes()) for p in extra_parts}
        self._build_table()
        return self

    @classmethod
    def build(
        cls,
        events: Iterable[Any],
        registry: EventRegistry,
        until: int | None = None,
        stream_id: str = "project",
        undo_depth: int = UNDO_DEPTH,
        batch_threshold: int = BATCH_THRESHOLD,
        extra_parts: tuple[ReadModelClass, ...] = (),
    ) -> ProjectProjections:
        self = cls(registry, stream_id, undo_depth, batch_threshold, extra_parts)
        self.apply(events, until)
        return self
