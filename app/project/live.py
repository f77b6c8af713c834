"""An open project: read models kept current from the store, commands executed
through the domain's deciders, and plain-callback notifications.

The one path by which a change reaches any view: decide -> append with the
expected stream version -> catch up from the store -> notify. Events written by
another process arrive the same way through ``refresh()``.

A ``Project`` is used from one thread (the GUI thread or the CLI).
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.project import projections
from app.project.address import ProjectAddress
from app.project.dataset_store import DatasetImages, created_event
from app.project.errors import ProjectError
from app.project.mapper import to_records
from app.project.projections import PROJECT_STREAM, SNAPSHOT_NAME, build_projections
from app.project.view import ProjectView
from domain import commands as c
from domain.decide import decide
from domain.events import (
    ClassAdded,
    ClassRenamed,
    Event,
    EventRegistry,
    LabelAssigned,
    LabelChangeRedone,
    LabelChangeUndone,
    LabelConfirmed,
    LabelRemoved,
    LabelsAssigned,
    LatentMapComputed,
    ProjectCreated,
)
from domain.initial_map import decode_map
from domain.projections import LabelSet, ProjectInfo, ProjectProjections
from eventstore import (
    ANY,
    ConcurrencyError,
    EventStore,
    RecordedEvent,
    Snapshot,
    StoreReadOnly,
    Verification,
)
from eventstore.model import ExpectedVersion

# Decide-append turns a change gets while other writers keep getting in first: a team
# labels one server project at once, so there a few turns are normal; a file is mostly
# one person's, where a second conflict in a row is worth telling.
_ATTEMPTS = {False: 2, True: 20}
# What a catch-up touched, by the classes of the events it brought.
_SAMPLE_EVENTS = {e.type_name for e in (LabelAssigned, LabelRemoved)}
# A confirmation changes no label, but may end a conflict the map marks on its samples.
_MANY_SAMPLE_EVENTS = {
    e.type_name for e in (LabelsAssigned, LabelChangeUndone, LabelChangeRedone, LabelConfirmed)
}
_CLASS_EVENTS = {e.type_name for e in (ProjectCreated, ClassAdded, ClassRenamed)}


@dataclass(frozen=True)
class ProjectChange:
    """What one catch-up brought: positions, the events, and what they touched,
    so a view can redraw only the samples whose label changed."""

    first_position: int
    last_position: int
    events: tuple[RecordedEvent, ...]
    samples: frozenset[int]
    classes_changed: bool
    map_changed: bool


Listener = Callable[[ProjectChange], None]


class Project(ProjectView):
    """The live project: reads (``ProjectView``), commands, blobs and catch-up."""

    def __init__(
        self,
        store: EventStore,
        registry: EventRegistry,
        state: ProjectProjections,
        *,
        path: Path,
        annotator: str,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
        owns_store: bool = True,
        address: ProjectAddress | None = None,
        may_change: bool = True,
    ) -> None:
        self._store = store
        self._registry = registry
        self._state = state
        self._snapshot_position = state.position
        self.path = path
        """The project file (for a server project a stand-in naming no file: use ``address``)."""
        self.address = address if address is not None else ProjectAddress.parse(path)
        self.annotator = annotator
        self.read_only = read_only
        # False for a server project whose database role may only read: a live view
        # that follows everyone's changes but records none.
        self.may_change = may_change and not read_only
        self._clock = clock
        self._owns_store = owns_store
        self._listeners: list[Listener] = []
        self._images: DatasetImages | None = None

    # --- read models (never mutate them) -------------------------------------------

    @property
    def state(self) -> ProjectProjections:
        return self._state

    @property
    def info(self) -> ProjectInfo:
        return self._state.info

    @property
    def labels(self) -> LabelSet:
        return self._state.labels

    @property
    def position(self) -> int:
        return self._state.position

    @property
    def event_count(self) -> int:
        return self._state.event_count

    def can_undo(self) -> bool:
        return self._state.history.last_done(self.annotator) is not None

    def can_redo(self) -> bool:
        return self._state.history.last_undone(self.annotator) is not None

    def images(self) -> DatasetImages:
        """The dataset (uint8, N×H×W or N×H×W×C), read lazily from the project's chunks:
        one image reads only the chunk holding it; ``np.asarray`` reads them all once."""
        if self._images is None:
            self._images = DatasetImages(
                self._store.get_blob,
                created_event(self._store, self._registry),
                read_range=self._store.read_blob_range,
            )
        return self._images

    def latent_map(self) -> np.ndarray | None:
        """The current 2-D map (float32, samples × 2), or None before any."""
        ref = self._state.latent_map.current
        return None if ref is None else decode_map(self._store.get_blob(ref.map_sha256))

    def events(self, after: int = 0) -> Iterator[RecordedEvent]:
        """The recorded events after ``after`` up to this view's position."""
        return self._store.read_all(after=after, until=self.position)

    def verify(self) -> Verification:
        """Check the log's hash chain (``eventstore.Verification``)."""
        return self._store.verify()

    def head(self) -> int:
        """The last position in the store (may be ahead of ``position`` until refresh)."""
        return self._store.head()

    def stream_version(self, stream_id: str) -> int:
        """``stream_id``'s version as of this view's position (0: no event yet): the
        expected version of an append decided on what this view has read."""
        for event in self._store.read_stream(stream_id, backwards=True):
            if event.position <= self.position:
                return event.version
        return 0

    # --- commands ---------------------------------------------------------------------

    def execute(self, command: c.Command) -> list[Event]:
        """Decide, append and catch up. Returns the events recorded (empty when the
        command changes nothing). Raises ``DomainError`` or ``ProjectError``."""
        if self.read_only:
            raise ProjectError(
                f"{self.address} is open read-only (as of position {self.position}): "
                "open it normally to make changes"
            )
        self._check_may_change()
        command = c.attributed(command, self.annotator)  # who asks: a confirmation needs it
        attempts = _ATTEMPTS[self.address.is_server]
        for attempt in range(1, attempts + 1):
            events = decide(self._state, command)
            if not events:
                return []
            annotator = command.annotator if isinstance(command, (c.Undo, c.Redo)) else self.annotator
            metadata = {"annotator": annotator, "at": self._clock(), "command": type(command).__name__}
            batch = to_records(events, metadata)
            try:
                self._store.append(PROJECT_STREAM, batch, self._state.stream_version)
            except StoreReadOnly:
                raise ProjectError(self._view_only_message()) from None
            except ConcurrencyError:
                # Another process wrote first: decide again against what it wrote. On a
                # shared server project several annotators write at once, so a few turns
                # (with a short, growing, jittered pause) are normal, not an error.
                self.refresh()
                if attempt == attempts:
                    times = "twice" if attempts == 2 else f"{attempts} times in a row"
                    raise ProjectError(
                        f"{self.address} was changed by another program {times} while this change "
                        "was being recorded; nothing was recorded -- try again"
                    ) from None
                time.sleep(random.uniform(0, 0.003 * attempt))
                continue
            self.refresh()
            return events
        raise AssertionError("unreachable")

    def assign_label(self, sample: int, label: int | str) -> list[Event]:
        return self.execute(c.AssignLabel(sample, label))

    def remove_label(self, sample: int) -> list[Event]:
        return self.execute(c.RemoveLabel(sample))

    def assign_label_to_many(self, samples: Iterable[int], label: int | str) -> list[Event]:
        return self.execute(c.AssignLabelToMany(tuple(int(s) for s in samples), label))

    def add_class(self, name: str) -> list[Event]:
        return self.execute(c.AddClass(name))

    def rename_class(self, label: int | str, new_name: str) -> list[Event]:
        return self.execute(c.RenameClass(label, new_name))

    def undo(self) -> list[Event]:
        return self.execute(c.Undo(self.annotator))

    def redo(self) -> list[Event]:
        return self.execute(c.Redo(self.annotator))

    # --- facts the application records (training) ------------------------------------

    def record(self, stream_id: str, events: list[Event], expected_version: ExpectedVersion = ANY) -> int:
        """Append facts that no decider produces — a run's progress, reported by a runner
        and recorded by the application — then catch up. Returns the last position."""
        if self.read_only:
            raise ProjectError(f"{self.address} is open read-only: nothing was recorded")
        self._check_may_change()
        metadata = {"annotator": self.annotator, "at": self._clock(), "command": "record"}
        batch = to_records(events, metadata)
        position = self._store.append(stream_id, batch, expected_version)
        self.refresh()
        return position

    # --- a cache beside the log (snapshots: deleting them loses nothing) ---------------

    def save_cache(self, name: str, position: int, payload: bytes) -> None:
        """Keep ``payload`` as the cache entry ``name`` (as of ``position``)."""
        self._store.save_snapshot(name, position, payload)

    def load_cache(self, name: str) -> Snapshot | None:
        return self._store.load_snapshot(name)

    def drop_cache(self, name: str) -> None:
        self._store.delete_snapshot(name)

    def put_blob(self, data: bytes) -> str:
        self._check_may_change()
        return self._store.put_blob(data)

    def _check_may_change(self) -> None:
        if not self.may_change:
            raise ProjectError(self._view_only_message())

    def _view_only_message(self) -> str:
        return (
            f"{self.address}: you may view this project but not change it (your database role "
            "may only read); nothing was recorded"
        )

    def get_blob(self, sha256: str) -> bytes:
        return self._store.get_blob(sha256)

    def has_blob(self, sha256: str) -> bool:
        return self._store.has_blob(sha256)

    def predictions(self) -> np.ndarray | None:
        """The latest model's class probabilities (float32, samples × classes), or None."""
        training = self._state.extras.get("training")
        ref = training.latest_predictions if training is not None else None
        if ref is None:
            return None
        return np.load(io.BytesIO(self._store.get_blob(ref.sha256)), allow_pickle=False)

    # --- following the log --------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(change)`` after every catch-up that brought events.
        Returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def refresh(self) -> int:
        """Fold events appended since ``position`` (by this or any other process),
        notify listeners; returns how many events arrived."""
        if self.read_only:
            return 0
        first = self.position + 1
        events = tuple(self._store.read_all(after=self.position))
        if not events:
            return 0
        self._state.apply(events)
        if self.position - self._snapshot_position >= projections.SNAPSHOT_EVERY:
            self.save_snapshot()
        if self._listeners:
            change = _describe(first, self.position, events)
            for listener in list(self._listeners):
                listener(change)
        return len(events)

    # --- time travel, snapshots, lifetime ---------------------------------------------

    def as_of(self, position: int) -> Project:
        """A read-only view of this project as it was at ``position``."""
        state = build_projections(
            self._store, self._registry, until=position, extra_parts=self._state.extra_parts
        )
        return Project(
            self._store,
            self._registry,
            state,
            path=self.path,
            annotator=self.annotator,
            clock=self._clock,
            read_only=True,
            owns_store=False,
            address=self.address,
        )

    def save_snapshot(self) -> None:
        if not self.may_change:
            return
        self._store.save_snapshot(SNAPSHOT_NAME, self.position, self._state.snapshot())
        self._snapshot_position = self.position

    def close(self) -> None:
        if self._owns_store:
            try:
                if self.may_change and self.position - self._snapshot_position >= projections.SNAPSHOT_EVERY:
                    self.save_snapshot()
            finally:
                self._store.close()
        self._listeners.clear()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _describe(first: int, last: int, events: tuple[RecordedEvent, ...]) -> ProjectChange:
    samples: set[int] = set()
    classes = mapped = False
    for e in events:
        if e.type in _SAMPLE_EVENTS:
            samples.add(e.data["sample"])
        elif e.type in _MANY_SAMPLE_EVENTS:
            samples.update(e.data["samples"])
        elif e.type in _CLASS_EVENTS:
            classes = True
        elif e.type == LatentMapComputed.type_name:
            mapped = True
    return ProjectChange(first, last, events, frozenset(samples), classes, mapped)


__all__ = ["Project", "ProjectChange"]
