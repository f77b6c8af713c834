"""Events of training runs: what was configured, started, learned and how it ended.

A run's events live in the run's own stream (``run-<id>``), appended by the application
only — never by a worker — so the label stream's concurrency is untouched by training.
Blobs (checkpoints, predictions, maps) are referenced by sha256, never embedded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from domain.events import Event, short_sha


@dataclass(frozen=True)
class ModelConfigured(Event):
    """The person settled on a model configuration (recorded when a run starts with a new one)."""

    type_name: ClassVar[str] = "ModelConfigured"
    config: dict[str, Any]

    def summary(self, names: Sequence[str] = ()) -> str:
        return "model configured: " + ", ".join(
            f"{k}={v}" for k, v in sorted(self.config.items()) if k != "epochs"
        )


@dataclass(frozen=True)
class TrainingStarted(Event):
    """A run began. Everything needed to re-execute it is here or referenced from here.

    ``labels_position`` is the log position whose labels the first epoch trains with;
    ``start_checkpoint`` (a blob) and ``epoch_offset`` are set when it continues an
    earlier run (``continues``).
    """

    type_name: ClassVar[str] = "TrainingStarted"
    blob_fields: ClassVar[Mapping[str, str]] = MappingProxyType({"start_checkpoint": "starting checkpoint"})
    run_id: str
    config: dict[str, Any]
    seed: int
    epochs: int
    labels_position: int
    dataset_sha256: str
    versions: dict[str, str]
    runner: str
    epoch_offset: int = 0
    start_checkpoint: str | None = None
    continues: str | None = None

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"run {self.run_id} started: {self.epochs} epochs, seed {self.seed}, {self.runner} runner" + (
            f", continues {self.continues}" if self.continues else ""
        )


@dataclass(frozen=True)
class EpochCompleted(Event):
    """One epoch finished; ``labels_position`` says which labels it trained with."""

    type_name: ClassVar[str] = "EpochCompleted"
    run_id: str
    epoch: int
    metrics: dict[str, float | None]
    labels_position: int
    labeled: int

    def summary(self, names: Sequence[str] = ()) -> str:
        m = self.metrics
        parts = [f"loss {m['loss']:.3f}"] if m.get("loss") is not None else []
        if m.get("heldout_accuracy") is not None and m.get("heldout_n") is not None:
            # The honest figure first: labels kept out of training.
            parts.append(f"held-out acc {m['heldout_accuracy']:.1%} (n {m['heldout_n']:.0f})")
        if m.get("accuracy") is not None:
            parts.append(f"training acc (own labels) {m['accuracy']:.1%}")
        return (
            f"run {self.run_id} epoch {self.epoch}: {', '.join(parts) or 'no metrics'}, "
            f"{self.labeled} labeled"
        )


@dataclass(frozen=True)
class CheckpointSaved(Event):
    type_name: ClassVar[str] = "CheckpointSaved"
    blob_fields: ClassVar[Mapping[str, str]] = MappingProxyType({"checkpoint_sha256": "checkpoint"})
    run_id: str
    epoch: int
    checkpoint_sha256: str
    size: int

    def summary(self, names: Sequence[str] = ()) -> str:
        return (
            f"run {self.run_id} checkpoint at epoch {self.epoch} "
            f"({short_sha(self.checkpoint_sha256)}, {self.size:,} bytes)"
        )


@dataclass(frozen=True)
class PredictionsComputed(Event):
    """Class probabilities of every sample (blob: float32, samples x classes).

    ``meaningful`` is False while the model has seen no label: its classes are then
    arbitrary clusters, not the person's classes.
    """

    type_name: ClassVar[str] = "PredictionsComputed"
    blob_fields: ClassVar[Mapping[str, str]] = MappingProxyType({"predictions_sha256": "predictions"})
    run_id: str
    epoch: int
    predictions_sha256: str
    samples: int
    classes: int
    meaningful: bool

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"run {self.run_id} predictions at epoch {self.epoch}" + (
            "" if self.meaningful else " (no labels yet)"
        )


@dataclass(frozen=True)
class TrainingCompleted(Event):
    type_name: ClassVar[str] = "TrainingCompleted"
    run_id: str
    epochs: int

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"run {self.run_id} completed after {self.epochs} epochs"


@dataclass(frozen=True)
class TrainingStopped(Event):
    """The person (or Ctrl+C) stopped the run; the last checkpoint is kept."""

    type_name: ClassVar[str] = "TrainingStopped"
    run_id: str
    epochs: int
    reason: str = "stopped by the user"

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"run {self.run_id} stopped after {self.epochs} epochs: {self.reason}"


@dataclass(frozen=True)
class TrainingFailed(Event):
    """The run's worker raised, exited non-zero, was killed or ran out of memory."""

    type_name: ClassVar[str] = "TrainingFailed"
    run_id: str
    epochs: int
    message: str
    exit_code: int | None = None
    signal: int | None = None
    stderr_tail: tuple[str, ...] = field(default_factory=tuple)

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"run {self.run_id} failed after {self.epochs} epochs: {self.message}"


@dataclass(frozen=True)
class TrainingInterrupted(Event):
    """Found on opening: the run has no terminal event because the app itself died."""

    type_name: ClassVar[str] = "TrainingInterrupted"
    run_id: str
    epochs: int

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"run {self.run_id} interrupted after {self.epochs} epochs"


CLOSE_CHOICES: Mapping[str, str] = MappingProxyType(
    {"stop": "stop the run", "keep running": "keep it training until it ends"}
)
WINDOW_STREAM = "window"
"""Choices made in the window about a run (never the run's own stream, whose versions
the run's recorder counts on while it trains)."""


@dataclass(frozen=True)
class CloseDuringRunChosen(Event):
    """The window was closed while ``run_id`` trained and the person chose what happens
    to it: ``choice`` is "stop" or "keep running" (in its worker, until it ends). How the
    run then ends is its own events' business."""

    type_name: ClassVar[str] = "CloseDuringRunChosen"
    run_id: str
    choice: str

    def summary(self, names: Sequence[str] = ()) -> str:
        choice = str(self.choice)
        return f"window closed during run {self.run_id}: {CLOSE_CHOICES.get(choice, choice)}"


TRAINING_EVENTS: tuple[type[Event], ...] = (
    ModelConfigured,
    TrainingStarted,
    EpochCompleted,
    CheckpointSaved,
    PredictionsComputed,
    TrainingCompleted,
    TrainingStopped,
    TrainingFailed,
    TrainingInterrupted,
    CloseDuringRunChosen,
)

TERMINAL_EVENTS = frozenset({"TrainingCompleted", "TrainingStopped", "TrainingFailed", "TrainingInterrupted"})


def run_stream(run_id: str) -> str:
    return f"run-{run_id}"
