"""Prospective accuracy: each label a person gives, compared with the prediction in force.

The log holds both: ``PredictionsComputed`` names the blob of every sample's class
probabilities, and the labels come later. A label counts when the sample had no label at
that moment, the latest predictions were made by a model that had seen labels
(``meaningful``), and that model never trained on a label of this sample (a sample whose
label was removed counts again only against predictions of an epoch that trained after
the removal). So every counted label is one the model had not seen: an honest estimate
that costs no label.

What does not count:
- a relabel of a labeled sample (the model may have trained on its old label);
- undo and redo (they repeat an earlier act; they still move the labels followed here);
- a label given before any meaningful predictions, or while the latest are not
  meaningful (a model that had seen no label predicts clusters, not classes).
A label of a class the model has no column for (added after the run) counts as wrong:
the model could not have said it.

It must read blobs, so it lives in the application, not among the domain's projections.
Qt-free: fold it anywhere, catch it up from ``position`` as the log grows.
"""

from __future__ import annotations

import collections
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.project.live import Project
from domain.accuracy import AccuracyEstimate, held_out_estimate
from domain.events import (
    LabelAssigned,
    LabelChangeRedone,
    LabelChangeUndone,
    LabelRemoved,
    LabelsAssigned,
)
from domain.projections.recorded import Recorded
from domain.training_events import EpochCompleted, PredictionsComputed
from eventstore import BlobCorrupt, BlobNotFound

METHOD = "prospective"
WINDOW = 100
"""Labels in the rolling window: recent enough to follow a model that improves as
labels are added, many enough for an interval of about ±6 points at 90 %."""
_DECODED_KEPT = 4  # the log is folded in order: only the blob in force is asked for again


@dataclass
class Counts:
    correct: int = 0
    n: int = 0

    def add(self, right: bool) -> None:
        self.correct += int(right)
        self.n += 1

    def estimate(self, method: str = METHOD) -> AccuracyEstimate:
        return AccuracyEstimate.from_counts(self.correct, self.n, method)


@dataclass(frozen=True)
class _InForce:
    sha256: str
    run_id: str
    epoch: int
    meaningful: bool
    trained_at: int | None  # the log position of the labels its epoch trained with


class ProspectiveAccuracy:
    """Per run, overall and over the last ``WINDOW`` labels; ``read_blob`` gives a blob's bytes."""

    def __init__(self, read_blob: Callable[[str], bytes]) -> None:
        self._read_blob = read_blob
        self.position = 0
        self.overall = Counts()
        self.runs: dict[str, Counts] = {}
        self._window: collections.deque[bool] = collections.deque(maxlen=WINDOW)
        self._labels: dict[int, int] = {}  # sample -> current label
        self._removed_at: dict[int, int] = {}  # sample -> position its label was last removed
        self._trained_at: dict[tuple[str, int], int] = {}  # (run, epoch) -> labels position
        self._in_force: _InForce | None = None
        self._decoded: collections.OrderedDict[str, npt.NDArray[np.int32] | None] = collections.OrderedDict()
        self._handlers: dict[str, Callable[[Recorded], None]] = {
            event.type_name: handler
            for event, handler in (
                (LabelAssigned, self._on_assigned),
                (LabelsAssigned, self._on_assigned_many),
                (LabelRemoved, self._on_removed),
                (LabelChangeUndone, self._on_reversal),
                (LabelChangeRedone, self._on_reversal),
                (EpochCompleted, self._on_epoch),
                (PredictionsComputed, self._on_predictions),
            )
        }

    # -- queries ----------------------------------------------------------------------------
    def estimate(self) -> AccuracyEstimate:
        return self.overall.estimate()

    def run_estimate(self, run_id: str) -> AccuracyEstimate | None:
        """Labels given while ``run_id``'s predictions were in force; None when there were none."""
        counts = self.runs.get(run_id)
        return None if counts is None or counts.n == 0 else counts.estimate()

    def recent(self) -> Counts:
        return Counts(sum(self._window), len(self._window))

    def as_dict(self) -> dict[str, Any]:
        """``{"correct", "n", "value", "low", "high", "recent": {...}}`` for reports."""
        return {**_counts_dict(self.overall), "recent": {**_counts_dict(self.recent()), "window": WINDOW}}

    # -- folding ----------------------------------------------------------------------------
    def catch_up(self, events: Iterable[Recorded]) -> ProspectiveAccuracy:
        for e in events:
            if e.position > self.position:
                self.apply(e)
        return self

    def apply(self, e: Recorded) -> None:
        handler = self._handlers.get(e.type)
        if handler is not None:
            handler(e)
        self.position = e.position

    def _on_assigned(self, e: Recorded) -> None:
        self._label(int(e.data["sample"]), int(e.data["label"]))

    def _on_assigned_many(self, e: Recorded) -> None:
        label = int(e.data["label"])
        for sample in e.data["samples"]:
            self._label(int(sample), label)

    def _on_removed(self, e: Recorded) -> None:
        sample = int(e.data["sample"])
        self._labels.pop(sample, None)
        self._removed_at[sample] = e.position

    def _on_reversal(self, e: Recorded) -> None:
        for sample, label in zip(e.data["samples"], e.data["labels"]):  # a damaged event may not pair up
            if int(label) < 0:
                self._labels.pop(int(sample), None)
                self._removed_at[int(sample)] = e.position
            else:
                self._labels[int(sample)] = int(label)

    def _on_epoch(self, e: Recorded) -> None:
        self._trained_at[(str(e.data["run_id"]), int(e.data["epoch"]))] = int(e.data["labels_position"])

    def _on_predictions(self, e: Recorded) -> None:
        d = e.data
        key = (str(d["run_id"]), int(d["epoch"]))
        self._in_force = _InForce(
            str(d["predictions_sha256"]),
            key[0],
            key[1],
            bool(d["meaningful"]),
            self._trained_at.pop(key, None),
        )

    def _label(self, sample: int, label: int) -> None:
        unlabeled = sample not in self._labels
        self._labels[sample] = label
        prediction = self._in_force
        if not unlabeled or prediction is None or not prediction.meaningful:
            return
        removed = self._removed_at.get(sample)
        if removed is not None and (prediction.trained_at is None or prediction.trained_at < removed):
            return  # the model may have trained on the label this sample had before
        predicted = self._predicted(prediction.sha256)
        if predicted is None or not 0 <= sample < predicted.shape[0]:
            return
        right = int(predicted[sample]) == label
        self.overall.add(right)
        self.runs.setdefault(prediction.run_id, Counts()).add(right)
        self._window.append(right)

    def _predicted(self, sha256: str) -> npt.NDArray[np.int32] | None:
        """The predicted class of every sample (argmax of the blob), decoded once."""
        if sha256 in self._decoded:
            self._decoded.move_to_end(sha256)
            return self._decoded[sha256]
        try:
            probabilities = np.load(io.BytesIO(self._read_blob(sha256)), allow_pickle=False)
            predicted = (
                np.argmax(probabilities, axis=1).astype(np.int32)
                if probabilities.ndim == 2 and probabilities.shape[1] > 0
                else None
            )
        except (BlobNotFound, BlobCorrupt):  # a copy without its blobs: nothing to compare with
            predicted = None
        self._decoded[sha256] = predicted
        while len(self._decoded) > _DECODED_KEPT:
            self._decoded.popitem(last=False)
        return predicted


def prospective_accuracy(project: Project) -> ProspectiveAccuracy:
    """The estimate folded over the whole log of ``project`` (one read of it)."""
    return ProspectiveAccuracy(project.get_blob).catch_up(project.events())


def run_accuracy(
    folded: ProspectiveAccuracy, run_id: str, metrics: dict[str, Any] | None
) -> AccuracyEstimate | None:
    """A run's headline accuracy: the held-out estimate its epoch's ``metrics`` carry when
    it kept labels out of training, else its prospective one (None: nothing to say)."""
    return held_out_estimate(metrics) or folded.run_estimate(run_id)


def _counts_dict(counts: Counts) -> dict[str, Any]:
    estimate = counts.estimate()
    return {
        "correct": counts.correct,
        "n": counts.n,
        "value": estimate.value,
        "low": estimate.low,
        "high": estimate.high,
    }
