"""LabelSet: the label of every sample, counts per class, who changed each
sample last and when.

Replay of a big log is the hot path (a million label events per second), so
runs of ``LabelAssigned`` are folded in bulk from columns (see ``batch.py``);
single events -- one click in the window -- take the per-event handlers.
Annotator names are interned to small ints.

Readers get read-only views of the arrays, not copies: a key press in the window at a
million samples must not copy megabytes. A view someone still holds must not change under
it, so the arrays are copy-on-write: before folding an event, an array that a view still
references (its reference count says so, the check ``ndarray.resize`` makes) is replaced
by a copy, and the holders keep the old one. An array nobody holds is written in place.
"""

from __future__ import annotations

import sys

import numpy as np

from domain.events import (
    ClassAdded,
    LabelAssigned,
    LabelChangeRedone,
    LabelChangeUndone,
    LabelRemoved,
    LabelsAssigned,
    ProjectCreated,
)
from domain.projections import codec
from domain.projections.batch import LabelRun
from domain.projections.recorded import Recorded

NO_LABEL = -1


def _references(holder: object, name: str) -> int:
    return sys.getrefcount(getattr(holder, name))


class _Probe:
    def __init__(self) -> None:
        self.array = np.zeros(1)


# How many references an attribute's array counts when nothing else holds it (measured
# once, the same way ``_unshare`` counts, so it holds whatever the interpreter).
_ALONE = _references(_Probe(), "array")


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class LabelSet:
    name = "labels"

    def __init__(self) -> None:
        self.position = 0
        self._labels = np.zeros(0, dtype=np.int32)
        self._who = np.zeros(0, dtype=np.int32)
        self._when = np.zeros(0, dtype=np.float64)
        self._counts = np.zeros(0, dtype=np.int64)
        self._annotators: list[str] = []
        self._annotator_ids: dict[str, int] = {}
        self._pending: np.ndarray | None = None  # latest unread event per sample
        self.handlers = {
            ProjectCreated: self._on_created,
            ClassAdded: self._on_class_added,
            LabelAssigned: self._on_assigned,
            LabelRemoved: self._on_removed,
            LabelsAssigned: self._on_many_assigned,
            LabelChangeUndone: self._on_reverted,
            LabelChangeRedone: self._on_reverted,
        }

    # --- reading ---------------------------------------------------------------

    @property
    def sample_count(self) -> int:
        return len(self._labels)

    @property
    def labels(self) -> np.ndarray:
        """int32 label per sample, -1 for none (a read-only view that later events leave as it is)."""
        return self._read("_labels")

    @property
    def annotator_ids(self) -> np.ndarray:
        """int32 index into ``annotators`` of who changed each sample last, -1 if nobody."""
        return self._read("_who")

    @property
    def changed_at(self) -> np.ndarray:
        """float64 unix time each sample was last changed, 0 if never."""
        return self._read("_when")

    @property
    def annotators(self) -> tuple[str, ...]:
        return tuple(self._annotators)

    @property
    def counts(self) -> np.ndarray:
        """Number of samples carrying each class."""
        if self._pending is not None:
            self._settle()
        return self._counts.copy()

    @property
    def labeled(self) -> int:
        return int(self.counts.sum())

    def label_of(self, sample: int) -> int:
        if self._pending is not None:
            self._settle()
        return int(self._labels[sample])

    def annotator_of(self, sample: int) -> str | None:
        if self._pending is not None:
            self._settle()
        who = int(self._who[sample])
        return self._annotators[who] if who >= 0 else None

    def _read(self, name: str) -> np.ndarray:
        if self._pending is not None:
            self._settle()
        return _read_only(getattr(self, name))

    def _writable(self) -> None:
        """Before folding: settle what is pending, and copy each array a reader still holds."""
        if self._pending is not None:
            self._settle()
        self._unshare()

    def _unshare(self) -> None:
        for name in ("_labels", "_who", "_when"):
            if _references(self, name) > _ALONE:
                setattr(self, name, getattr(self, name).copy())

    # --- folding, one event at a time ----------------------------------------------

    def _on_created(self, e: Recorded) -> None:
        self._pending = None
        n = int(e.data["shape"][0])
        self._labels = np.full(n, NO_LABEL, dtype=np.int32)
        self._who = np.full(n, NO_LABEL, dtype=np.int32)
        self._when = np.zeros(n, dtype=np.float64)
        self._counts = np.zeros(len(e.data["class_names"]), dtype=np.int64)

    def _on_class_added(self, e: Recorded) -> None:
        if self._pending is not None:
            self._settle()
        self._counts = np.append(self._counts, 0)

    def _annotator_id(self, name: str) -> int:
        aid = self._annotator_ids.get(name)
        if aid is None:
            aid = self._annotator_ids[name] = len(self._annotators)
            self._annotators.append(name)
        return aid

    def _set(self, sample: int, label: int, aid: int, at: float) -> None:
        # Callers made the arrays writable (``_writable``) once per event.
        old = self._labels[sample]
        if old >= 0:
            self._counts[old] -= 1
        if label >= 0:
            self._counts[label] += 1
        self._labels[sample] = label
        self._who[sample] = aid
        self._when[sample] = at

    def _stamp(self, e: Recorded) -> tuple[int, float]:
        m = e.metadata
        return self._annotator_id(m.get("annotator", "")), m.get("at") or e.recorded_at

    def _on_assigned(self, e: Recorded) -> None:
        self._writable()
        self._set(e.data["sample"], e.data["label"], *self._stamp(e))

    def _on_removed(self, e: Recorded) -> None:
        self._writable()
        self._set(e.data["sample"], NO_LABEL, *self._stamp(e))

    def _on_many_assigned(self, e: Recorded) -> None:
        aid, at = self._stamp(e)
        label = e.data["label"]
        self._writable()
        for s in e.data["samples"]:
            self._set(s, label, aid, at)

    def _on_reverted(self, e: Recorded) -> None:
        aid, at = self._stamp(e)
        self._writable()
        for s, label in zip(e.data["samples"], e.data["labels"]):
            self._set(s, label, aid, at)

    # --- folding a run of LabelAssigned in bulk --------------------------------------

    def fold_label_run(self, run: LabelRun) -> None:
        """Remember, per sample, only the latest event of the run; fields are
        read when someone looks (``_settle``), so a sample relabeled a hundred
        times during a replay is decoded once."""
        for name in run.annotator_counts:  # first-seen order, as one by one
            self._annotator_id(name)
        if self._pending is None:
            self._pending = np.full(len(self._labels), None, dtype=object)
        samples, last = run.last_of_each_sample(len(self._labels))
        self._pending[samples] = run.events_at(last)

    def _settle(self) -> None:
        pending, self._pending = self._pending, None
        assert pending is not None  # callers settle only when something is pending
        self._unshare()
        samples = np.flatnonzero(pending != None)  # noqa: E711 (elementwise, not identity)
        events = pending[samples].tolist()
        ids = self._annotator_ids
        self._labels[samples] = [e.data["label"] for e in events]
        self._who[samples] = [ids[e.metadata.get("annotator", "")] for e in events]
        self._when[samples] = [e.metadata.get("at") or e.recorded_at for e in events]
        labeled = self._labels[self._labels >= 0]
        self._counts = np.bincount(labeled, minlength=len(self._counts)).astype(np.int64)

    # --- snapshots -------------------------------------------------------------

    def snapshot(self) -> bytes:
        if self._pending is not None:
            self._settle()
        header = {"position": self.position, "annotators": self._annotators}
        arrays: dict[str, np.ndarray] = {
            "labels": self._labels,
            "who": self._who,
            "when": self._when,
            "counts": self._counts,
        }
        return codec.pack(header, arrays)

    @classmethod
    def restore(cls, payload: bytes) -> LabelSet:
        header, arrays = codec.unpack(payload)
        self = cls()
        self.position = header["position"]
        # Copies: the payload's buffers are read-only and the projection folds in place.
        self._labels = arrays["labels"].astype(np.int32)
        self._who = arrays["who"].astype(np.int32)
        self._when = arrays["when"].astype(np.float64)
        self._counts = arrays["counts"].astype(np.int64)
        self._annotators = list(header["annotators"])
        self._annotator_ids = {name: i for i, name in enumerate(self._annotators)}
        return self
