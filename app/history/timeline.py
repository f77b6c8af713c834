"""The history of a project, for the history panel and ``ledgerlab log``: a paged,
filterable listing of its events, the project as of any position (fast, from the
nearest snapshot), the epochs of its runs, and branching from a position.

Qt-free; every method may run on a background thread (the store gives each thread
its own connection). Class numbers in summaries are shown by the class names of
the head, the ones a person knows now.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.history.index import HistoryIndex, annotator_of, recorded_time
from app.project import snapshots as history_snapshots
from app.project.errors import ProjectError
from app.project.live import Project
from app.project.projections import build_projections
from domain.events import EventRegistry
from domain.projections.project import ReadModelClass
from eventstore import EventStore, RecordedEvent


@dataclass(frozen=True)
class HistoryRow:
    position: int
    time: float  # the annotator's clock (UNIX seconds), else the store's
    annotator: str
    type: str
    summary: str
    stream: str


@dataclass(frozen=True)
class EpochMark:
    """Where in the log an epoch of a run was recorded (a place a slider can jump to)."""

    run_id: str
    epoch: int
    position: int
    loss: float | None
    accuracy: float | None


class History:
    def __init__(
        self,
        store: EventStore,
        registry: EventRegistry,
        *,
        path: Path,
        extra_parts: tuple[ReadModelClass, ...] = (),
        annotator: str = "",
    ) -> None:
        self._store = store
        self._registry = registry
        self._extra_parts = tuple(extra_parts)
        self.path = path
        self.annotator = annotator
        self._index: HistoryIndex | None = None
        self._names: tuple[int, tuple[str, ...]] = (-1, ())

    @classmethod
    def of(cls, project: Project) -> History:
        """The history of an open project, sharing its store."""
        return cls(
            project._store,
            project._registry,
            path=project.path,
            extra_parts=project.state.extra_parts,
            annotator=project.annotator,
        )

    def head(self) -> int:
        return self._store.head()

    # -- the listing ----------------------------------------------------------------------
    def rows(
        self,
        offset: int,
        limit: int,
        type: str | None = None,
        annotator: str | None = None,
        newest_first: bool = False,
    ) -> list[HistoryRow]:
        """``limit`` rows from the ``offset``-th matching event (oldest first, or newest)."""
        if offset < 0 or limit < 0:
            raise ProjectError(f"offset and limit must be 0 or more, not {offset} and {limit}")
        if type is None and annotator is None:
            head = self.head()  # positions have no gaps: a page is a range
            first = head - offset - limit + 1 if newest_first else offset + 1
            last = min(head, first + limit - 1)
            first = max(first, 1)
            events = list(self._store.read_all(after=first - 1, until=last)) if last >= first else []
        else:
            positions = self._positions(type, annotator)
            if newest_first:
                positions = positions[::-1]
            events = sorted(self._fetch(positions[offset : offset + limit]), key=lambda e: e.position)
        if newest_first:
            events.reverse()
        names = self.class_names()
        return [self.row(e, names) for e in events]

    def count(self, type: str | None = None, annotator: str | None = None) -> int:
        if type is None and annotator is None:
            return self.head()
        return len(self._positions(type, annotator))

    def types(self) -> tuple[str, ...]:
        """The event types present in the log, in order of first appearance."""
        return tuple(self._caught_up().type_names)

    def annotators(self) -> tuple[str, ...]:
        return tuple(n for n in self._caught_up().annotator_names if n)

    def events(self, type: str | None = None, annotator: str | None = None) -> Iterator[RecordedEvent]:
        """Every matching event, oldest first, read lazily (for ``ledgerlab log``)."""
        for e in self._store.read_all():
            if (type is None or e.type == type) and (
                annotator is None or e.metadata.get("annotator") == annotator
            ):
                yield e

    def row(self, e: RecordedEvent, names: tuple[str, ...] | None = None) -> HistoryRow:
        names = self.class_names() if names is None else names
        return HistoryRow(
            e.position,
            recorded_time(e),
            annotator_of(e),
            e.type,
            self._registry.summarize(e.type, e.schema_version, e.data, names),
            e.stream_id,
        )

    def class_names(self) -> tuple[str, ...]:
        head = self.head()
        if self._names[0] != head:
            self._names = (head, self.state_as_of(head).info.class_names if head else ())
        return self._names[1]

    # -- time travel ----------------------------------------------------------------------
    def state_as_of(self, position: int) -> Project:
        """A read-only view of the project at ``position``, from the nearest snapshot."""
        head = self.head()
        if not 0 <= position <= head:
            raise ProjectError(
                f"position {position} is outside the log of {self.path}, which holds "
                f"positions 0–{head}; choose one in that range"
            )
        every, built = history_snapshots.spacing(self._store)
        if position - built > 2 * every and not getattr(self._store, "read_only", False):
            for _ in history_snapshots.build_checkpoints(
                self._store, self._registry, self._extra_parts, position
            ):
                pass
        state = build_projections(self._store, self._registry, until=position, extra_parts=self._extra_parts)
        return Project(
            self._store,
            self._registry,
            state,
            path=self.path,
            annotator=self.annotator,
            read_only=True,
            owns_store=False,
        )

    def prepare(self, should_stop: Callable[[], bool] = lambda: False) -> Iterator[tuple[int, int]]:
        """Build the as-of snapshots and the filter index in one read of the log, yielding
        (position, head) as it goes: run it in a background job when the panel opens."""
        index = self._index or HistoryIndex.load(self._store)
        for done in history_snapshots.build_checkpoints(
            self._store, self._registry, self._extra_parts, also=index.add
        ):
            yield done
            if should_stop():
                break
        index.catch_up(self._store)
        index.save(self._store)
        self._index = index

    # -- runs -----------------------------------------------------------------------------
    def epochs(self, run_id: str | None = None) -> list[EpochMark]:
        """Every recorded epoch (of one run, or of all), in log order."""
        marks = []
        for e in self._fetch(self._positions("EpochCompleted", None)):
            d = e.data
            if run_id is None or d["run_id"] == run_id:
                marks.append(
                    EpochMark(
                        d["run_id"],
                        d["epoch"],
                        e.position,
                        d["metrics"].get("loss"),
                        d["metrics"].get("accuracy"),
                    )
                )
        return sorted(marks, key=lambda m: m.position)

    # -- branching ------------------------------------------------------------------------
    def branch(self, at: int, new_path: str | os.PathLike[str]) -> Path:
        """A new project file holding this history up to ``at``; returns its path."""
        from app.history.branching import branch_store

        return branch_store(
            self._store, self._registry, self._extra_parts, self.path, at, new_path, annotator=self.annotator
        )

    # -- internals ------------------------------------------------------------------------
    def _caught_up(self) -> HistoryIndex:
        if self._index is None:
            self._index = HistoryIndex.load(self._store)
        if self._index.position < self.head():
            self._index.catch_up(self._store)
        return self._index

    def _positions(self, type: str | None, annotator: str | None) -> np.ndarray:
        return self._caught_up().positions(type, annotator)

    def _fetch(self, positions: np.ndarray) -> list[RecordedEvent]:
        """The events at ``positions`` (sorted), read as contiguous ranges."""
        events: list[RecordedEvent] = []
        positions = np.sort(np.asarray(positions, np.int64))
        if not len(positions):
            return events
        breaks = np.flatnonzero(np.diff(positions) != 1) + 1
        for run in np.split(positions, breaks):
            events.extend(self._store.read_all(after=int(run[0]) - 1, until=int(run[-1])))
        return events
