"""What the history panel asks of the history, Qt-free: the listing, the project as
of a position (read-only, with the dataset and blobs shared with the live project),
and what differs between two shown states, so the views redraw only that.

The history itself is ``app.history.timeline.History``; this module only adapts it to a
window that keeps one project open and moves through time often.
"""

from __future__ import annotations

import io
from collections import OrderedDict

import numpy as np

from app.history.timeline import History
from app.project.dataset_store import DatasetImages
from app.project.live import Project, ProjectChange
from app.project.view import ProjectView
from domain.initial_map import decode_map
from domain.projections import LabelSet, ProjectInfo, ProjectProjections
from domain.training_events import PredictionsComputed

BLOBS_KEPT = 8  # maps and predictions of recent positions: scrubbing an epoch range re-reads few


class WindowHistory(History):
    """The history of the project open in the window.

    Summaries name classes as the head does; the live project already knows those
    names, so a page of rows need not rebuild the head's state after every label."""

    def __init__(self, project) -> None:
        super().__init__(
            project._store,
            project._registry,
            path=project.path,  # noqa: SLF001
            extra_parts=project.state.extra_parts,
            annotator=project.annotator,
        )
        self._live = project

    def class_names(self) -> tuple[str, ...]:
        if self._live.position == self.head():
            return tuple(self._live.info.class_names)
        return super().class_names()


class BlobCache:
    """Decoded blobs by hash: a position's map or predictions are read (and re-hashed)
    once, not on every slider move that lands on them."""

    def __init__(self, project) -> None:
        self._project = project
        self._kept: OrderedDict[str, np.ndarray] = OrderedDict()

    def array(self, sha256: str, decode) -> np.ndarray:
        value = self._kept.get(sha256)
        if value is None:
            value = decode(self._project.get_blob(sha256))
            self._kept[sha256] = value
            while len(self._kept) > BLOBS_KEPT:
                self._kept.popitem(last=False)
        else:
            self._kept.move_to_end(sha256)
        return value


class PastProject(ProjectView):
    """A read-only project as of a position; reads like the live one, so every view
    can show it. The dataset and decoded blobs come from the window's caches."""

    def __init__(self, as_of: Project, live: Project, blobs: BlobCache) -> None:
        self._as_of = as_of
        self._live = live
        self._blobs = blobs
        self.path = as_of.path
        self.annotator = as_of.annotator
        self.read_only = True

    @property
    def position(self) -> int:
        return self._as_of.position

    @property
    def event_count(self) -> int:
        return self._as_of.event_count

    @property
    def state(self) -> ProjectProjections:
        return self._as_of.state

    @property
    def info(self) -> ProjectInfo:
        return self._as_of.info

    @property
    def labels(self) -> LabelSet:
        return self._as_of.labels

    def images(self) -> DatasetImages:
        return self._live.images()  # a project's dataset never changes

    def latent_map(self) -> np.ndarray | None:
        ref = self._as_of.state.latent_map.current
        return None if ref is None else self._blobs.array(ref.map_sha256, decode_map)

    def predictions(self) -> np.ndarray | None:
        ref = prediction_ref(self._as_of)
        if ref is None:
            return None
        return self._blobs.array(ref.sha256, lambda b: np.load(io.BytesIO(b), allow_pickle=False))

    def can_undo(self) -> bool:
        return False

    def can_redo(self) -> bool:
        return False


class TimeMachine:
    """The project at any position for the window (one per open project)."""

    def __init__(self, project, history: History | None = None) -> None:
        self.live = project
        self.history = history if history is not None else WindowHistory(project)
        self._blobs = BlobCache(project)

    def at(self, position: int) -> PastProject:
        return PastProject(self.history.state_as_of(position), self.live, self._blobs)

    def time_at(self, position: int) -> float | None:
        """When the event at ``position`` was recorded (the annotator's clock)."""
        rows = self.history.rows(position - 1, 1)
        return float(rows[0].time) if rows else None

    def epoch_positions(self) -> list[int]:
        """Where each epoch of every run is fully shown. A runner records an epoch as one
        append (EpochCompleted, a checkpoint, LatentMapComputed, PredictionsComputed), so
        its map and predictions exist only from the last of those on."""
        history = self.history
        name = PredictionsComputed.type_name
        stops = [row.position for row in history.rows(0, history.count(name), name)]
        return stops or [mark.position for mark in history.epochs()]


def prediction_ref(project):
    training = project.state.extras.get("training")
    return None if training is None else training.latest_predictions


def latest_run(project):
    training = project.state.extras.get("training")
    return None if training is None else training.latest


def difference(shown, target) -> tuple[ProjectChange, bool]:
    """What the views must redraw to go from showing ``shown`` to showing ``target``
    (any two positions, either way): a change as a catch-up would describe it, and
    whether the predictions differ."""
    a, b = shown.labels, target.labels
    changed = np.flatnonzero((a.labels != b.labels) | (a.changed_at != b.changed_at))
    classes = tuple(shown.info.class_names) != tuple(target.info.class_names)
    mapped = shown.state.latent_map.current != target.state.latent_map.current
    change = ProjectChange(shown.position, target.position, (), frozenset(changed.tolist()), classes, mapped)
    return change, prediction_ref(shown) != prediction_ref(target)
