"""TrainingRuns: every run with its metric series, and the latest model outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from domain.errors import DomainError
from domain.events import Event
from domain.projections.recorded import Recorded
from domain.projections.run_choices import RunChoices
from domain.training_events import (
    CheckpointSaved,
    EpochCompleted,
    ModelConfigured,
    PredictionsComputed,
    TrainingCompleted,
    TrainingFailed,
    TrainingInterrupted,
    TrainingStarted,
    TrainingStopped,
)

_STATUS: dict[type[Event], str] = {
    TrainingCompleted: "completed",
    TrainingStopped: "stopped",
    TrainingFailed: "failed",
    TrainingInterrupted: "interrupted",
}
_STATUS_BY_TYPE = {event_class.type_name: status for event_class, status in _STATUS.items()}


@dataclass
class TrainingRun:
    run_id: str
    status: str  # running | completed | stopped | failed | interrupted
    config: dict[str, Any]
    seed: int
    epochs_planned: int
    runner: str
    started_position: int
    started_at: float
    labels_position: int
    epoch_offset: int = 0
    start_checkpoint: str | None = None
    continues: str | None = None
    epochs: list[int] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    labels_positions: list[int] = field(default_factory=list)
    checkpoint: str | None = None  # sha256 of the latest checkpoint
    checkpoint_epoch: int | None = None
    message: str = ""
    ended_position: int | None = None

    @property
    def last_epoch(self) -> int:
        return self.epochs[-1] if self.epochs else self.epoch_offset

    @property
    def last_metrics(self) -> dict[str, Any]:
        return self.metrics[-1] if self.metrics else {}


@dataclass(frozen=True)
class ModelOutput:
    """A blob made by a run at an epoch, and where in the log it was recorded."""

    sha256: str
    run_id: str
    epoch: int
    position: int
    meaningful: bool = True


class TrainingRuns:
    name = "training"

    def __init__(self) -> None:
        self.position = 0
        self.runs: dict[str, TrainingRun] = {}  # insertion order = oldest first
        self.config: dict[str, Any] | None = None  # the last configured model
        self.latest_checkpoint: ModelOutput | None = None
        self.newest_predictions: ModelOutput | None = None  # of any run
        # Each run's latest predictions, in the order runs last predicted.
        self.run_predictions: dict[str, ModelOutput] = {}
        # The chosen run, the archived ones, the presets: folded by ``ModelRegistry``
        # (domain.projections.models), which the composition root uses; empty here.
        self.choices = RunChoices()
        self.handlers = {
            ModelConfigured: self._on_configured,
            TrainingStarted: self._on_started,
            EpochCompleted: self._on_epoch,
            CheckpointSaved: self._on_checkpoint,
            PredictionsComputed: self._on_predictions,
            **{name: self._on_end for name in _STATUS},
        }

    # -- queries ----------------------------------------------------------------------
    @property
    def running(self) -> list[TrainingRun]:
        return [r for r in self.runs.values() if r.status == "running"]

    def get(self, run_id: str) -> TrainingRun | None:
        return self.runs.get(run_id)

    @property
    def latest(self) -> TrainingRun | None:
        return next(reversed(self.runs.values()), None)

    @property
    def chosen_run(self) -> str | None:
        """The run a person chose to drive the window (``RunChosen``), while it holds: a
        run started after the choice, or archiving the chosen run, ends it."""
        chosen = self.choices.chosen
        run = self.runs.get(chosen) if chosen else None
        if run is None or chosen in self.choices.archived:
            return None
        latest = self.latest
        if latest is not None and latest.started_position > self.choices.chosen_position:
            return None
        return chosen

    @property
    def driving_run(self) -> str | None:
        """The run whose predictions drive the window (``latest_predictions``), if any."""
        found = self.latest_predictions
        return None if found is None else found.run_id

    @property
    def latest_predictions(self) -> ModelOutput | None:
        """The predictions that drive the window: the chosen run's latest, else the newest
        of a run neither archived nor failed (the latest run's, live while it trains); a
        failed run's only when no other run predicted."""
        chosen = self.chosen_run
        if chosen is not None and chosen in self.run_predictions:
            return self.run_predictions[chosen]
        archived = self.choices.archived
        failed = {r.run_id for r in self.runs.values() if r.status == "failed"}
        if not archived and not failed:
            return self.newest_predictions
        kept = [p for p in reversed(self.run_predictions.values()) if p.run_id not in archived]
        return next((p for p in kept if p.run_id not in failed), kept[0] if kept else None)

    # -- folding ----------------------------------------------------------------------
    def _on_configured(self, e: Recorded) -> None:
        self.config = dict(e.data["config"])

    def _on_started(self, e: Recorded) -> None:
        d = e.data
        self.runs[d["run_id"]] = TrainingRun(
            run_id=d["run_id"],
            status="running",
            config=dict(d["config"]),
            seed=d["seed"],
            epochs_planned=d["epochs"],
            runner=d["runner"],
            started_position=e.position,
            started_at=e.metadata.get("at") or e.recorded_at,
            labels_position=d["labels_position"],
            epoch_offset=d.get("epoch_offset", 0),
            start_checkpoint=d.get("start_checkpoint"),
            continues=d.get("continues"),
        )

    def _on_epoch(self, e: Recorded) -> None:
        run = self.runs.get(e.data["run_id"])
        if run is not None:
            run.epochs.append(e.data["epoch"])
            run.metrics.append(dict(e.data["metrics"]))
            run.labels_positions.append(e.data["labels_position"])

    def _on_checkpoint(self, e: Recorded) -> None:
        d = e.data
        run = self.runs.get(d["run_id"])
        if run is not None:
            run.checkpoint, run.checkpoint_epoch = d["checkpoint_sha256"], d["epoch"]
        self.latest_checkpoint = ModelOutput(d["checkpoint_sha256"], d["run_id"], d["epoch"], e.position)

    def _on_predictions(self, e: Recorded) -> None:
        d = e.data
        self.newest_predictions = ModelOutput(
            d["predictions_sha256"], d["run_id"], d["epoch"], e.position, bool(d["meaningful"])
        )
        self.run_predictions.pop(d["run_id"], None)
        self.run_predictions[d["run_id"]] = self.newest_predictions

    def _on_end(self, e: Recorded) -> None:
        run = self.runs.get(e.data["run_id"])
        if run is not None:
            run.status = _STATUS_BY_TYPE[e.type]
            run.message = e.data.get("message") or e.data.get("reason") or ""
            run.ended_position = e.position

    # -- snapshots ---------------------------------------------------------------------
    def snapshot(self) -> bytes:
        out: Callable[[ModelOutput | None], dict[str, Any] | None] = (
            lambda o: asdict(o) if o is not None else None  # noqa: E731
        )
        return json.dumps(
            {
                "position": self.position,
                "config": self.config,
                "runs": [asdict(r) for r in self.runs.values()],
                "latest_checkpoint": out(self.latest_checkpoint),
                "latest_predictions": out(self.newest_predictions),
                "run_predictions": [asdict(p) for p in self.run_predictions.values()],
                "choices": self.choices.as_dict(),
            }
        ).encode()

    @classmethod
    def restore(cls, payload: bytes) -> TrainingRuns:
        data = json.loads(payload)
        self = cls()
        self.position = data["position"]
        self.config = data["config"]
        self.runs = {r["run_id"]: TrainingRun(**r) for r in data["runs"]}
        if data["latest_checkpoint"]:
            self.latest_checkpoint = ModelOutput(**data["latest_checkpoint"])
        if data["latest_predictions"]:
            self.newest_predictions = ModelOutput(**data["latest_predictions"])
        if "run_predictions" not in data:  # a snapshot cannot tell which run predicted what
            raise DomainError("the snapshot was made before runs could be chosen; replay the log")
        self.run_predictions = {p["run_id"]: ModelOutput(**p) for p in data["run_predictions"]}
        self.choices.load(data.get("choices", {}))
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TrainingRuns) and self.snapshot() == other.snapshot()
