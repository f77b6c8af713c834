"""Runs as models, Qt-free: every run as a row a person compares (``ledgerlab runs``, the
Runs panel), and the decisions about runs recorded as events (choose, archive,
unarchive, presets; ``domain.model_events``).

A row is read from the training read model plus one pass over the log for what it does
not keep: the labels each epoch trained with, the checkpoint epochs, when the run ended,
and the honest accuracy (``app.quality.accuracy``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.project.errors import ProjectError
from app.project.live import Project
from app.project.view import ProjectView
from app.quality.accuracy import ProspectiveAccuracy, run_accuracy
from domain.accuracy import AccuracyEstimate
from domain.events import Event
from domain.learning.config import ConfigError, TrainingConfig
from domain.model_events import (
    MODELS_STREAM,
    PresetDeleted,
    PresetSaved,
    RunArchived,
    RunChosen,
    RunUnarchived,
)
from domain.projections.training import TrainingRun, TrainingRuns
from domain.training_events import TERMINAL_EVENTS, CheckpointSaved, EpochCompleted

NEWEST = "newest"  # --choose newest: back to the default (the newest predictions)


@dataclass
class RunRow:
    """One run as ``ledgerlab runs`` and the Runs panel show it."""

    run_id: str
    status: str
    started_at: float
    ended_at: float | None
    epochs: int  # epochs this run trained
    last_epoch: int
    labels_start: int | None
    labels_end: int | None
    config: dict[str, Any]  # the settings that differ from today's defaults
    final_loss: float | None
    accuracy: AccuracyEstimate | None
    continued_from: str | None
    archived: bool
    checkpoints: list[int] = field(default_factory=list)
    driving: bool = False  # its predictions drive the window
    chosen: bool = False  # by RunChosen (else by default)
    losses: list[float | None] = field(default_factory=list)  # per epoch, for the curves
    epoch_numbers: list[int] = field(default_factory=list)

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else max(0.0, self.ended_at - self.started_at)

    def as_json(self) -> dict[str, Any]:
        """The fields of ``ledgerlab runs --json``, exactly."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "started_at": iso(self.started_at),
            "epochs": self.epochs,
            "labels": {"start": self.labels_start, "end": self.labels_end},
            "config": self.config,
            "accuracy_estimate": None if self.accuracy is None else self.accuracy.as_dict(),
            "continued_from": self.continued_from,
            "archived": self.archived,
            "checkpoints": self.checkpoints,
        }


def training_of(project: ProjectView) -> TrainingRuns:
    part = project.state.extras.get("training")
    return part if isinstance(part, TrainingRuns) else TrainingRuns()


def changed_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings of a recorded config that differ from today's defaults (``epochs``
    has its own column); a config this release cannot read is shown as recorded."""
    try:
        full = TrainingConfig.from_dict(dict(config)).to_dict()
    except (ConfigError, TypeError):
        return {k: v for k, v in config.items() if k != "epochs"}
    defaults = TrainingConfig().to_dict()
    return {k: v for k, v in full.items() if k != "epochs" and defaults.get(k) != v}


class RunLog:
    """What the training read model does not keep, folded from the log as it grows: the
    labels each epoch trained with, checkpoint epochs, end times, the honest accuracy."""

    def __init__(self, project: Project) -> None:
        self.position = 0
        self.labeled: dict[str, list[int]] = {}
        self.checkpoints: dict[str, list[int]] = {}
        self.checkpoint_blobs: dict[str, dict[int, str]] = {}  # run -> epoch -> sha256
        self.ended: dict[str, float] = {}
        self.accuracy = ProspectiveAccuracy(project.get_blob)

    def catch_up(self, project: Project) -> RunLog:
        for e in project.events(self.position):
            self.accuracy.apply(e)
            self.position = e.position
            if e.type == EpochCompleted.type_name:
                self.labeled.setdefault(e.data["run_id"], []).append(int(e.data["labeled"]))
            elif e.type == CheckpointSaved.type_name:
                self.checkpoints.setdefault(e.data["run_id"], []).append(int(e.data["epoch"]))
                blobs = self.checkpoint_blobs.setdefault(e.data["run_id"], {})
                blobs[int(e.data["epoch"])] = str(e.data["checkpoint_sha256"])
            elif e.type in TERMINAL_EVENTS:
                self.ended[e.data["run_id"]] = _time(e.metadata.get("at"), e.recorded_at)
        return self


def run_rows(project: Project, include_archived: bool = False, log: RunLog | None = None) -> list[RunRow]:
    """Every run, oldest first (archived ones only when asked for). ``log``: the fold of
    an earlier call on the same project, caught up here instead of read again."""
    training = training_of(project)
    if not training.runs:
        return []
    log = (log or RunLog(project)).catch_up(project)
    labeled, checkpoints, ended, folded = log.labeled, log.checkpoints, log.ended, log.accuracy
    driving, chosen = training.driving_run, training.chosen_run
    rows = []
    for run in training.runs.values():
        archived = run.run_id in training.choices.archived
        if archived and not include_archived:
            continue
        counts = labeled.get(run.run_id, [])
        rows.append(
            RunRow(
                run_id=run.run_id,
                status=run.status,
                started_at=run.started_at,
                ended_at=ended.get(run.run_id),
                epochs=len(run.epochs),
                last_epoch=run.last_epoch,
                labels_start=counts[0] if counts else None,
                labels_end=counts[-1] if counts else None,
                config=changed_settings(run.config),
                final_loss=_loss(run.last_metrics),
                accuracy=run_accuracy(folded, run.run_id, run.last_metrics),
                continued_from=run.continues,
                archived=archived,
                checkpoints=sorted(set(checkpoints.get(run.run_id, []))),
                driving=run.run_id == driving,
                chosen=run.run_id == chosen,
                losses=[_loss(m) for m in run.metrics],
                epoch_numbers=list(run.epochs),
            )
        )
    return rows


# --- decisions, recorded as events ----------------------------------------------------------


def find_run(project: ProjectView, run_id: str) -> TrainingRun:
    training = training_of(project)
    run = training.get(run_id)
    if run is None:
        known = ", ".join(training.runs) or "none yet: train first"
        raise ProjectError(f"there is no run {run_id!r} in {project.path} (runs: {known})")
    return run


def choice(project: ProjectView, run_id: str) -> Event:
    """``RunChosen`` for ``run_id`` (``newest``: back to the default), or a ``ProjectError``
    saying why that run cannot drive the window."""
    training = training_of(project)
    if run_id == NEWEST and training.get(NEWEST) is None:
        return RunChosen("")
    find_run(project, run_id)
    if run_id in training.choices.archived:
        raise ProjectError(f"run {run_id} is archived: unarchive it first (--unarchive {run_id})")
    found = training.run_predictions.get(run_id)
    if found is None or not found.meaningful:
        raise ProjectError(
            f"run {run_id} has no predictions of your classes (it recorded no epoch, or saw no "
            "label): choose a run that trained on labels"
        )
    return RunChosen(run_id)


def archiving(project: ProjectView, run_id: str, archive: bool) -> Event | None:
    """``RunArchived``/``RunUnarchived``; None when the run already is so (nothing to record)."""
    find_run(project, run_id)
    archived = run_id in training_of(project).choices.archived
    if archived == archive:
        return None
    return RunArchived(run_id) if archive else RunUnarchived(run_id)


def preset_from_run(project: ProjectView, name: str, run_id: str) -> PresetSaved:
    """The settings ``run_id`` trained with, saved under ``name``."""
    name = name.strip()
    if not name or len(name) > 100 or any(not ch.isprintable() for ch in name):
        raise ProjectError("a preset needs a name of 1 to 100 printable characters, e.g. 'wide classifier'")
    run = find_run(project, run_id)
    return PresetSaved(name, {k: v for k, v in run.config.items() if k != "epochs"})


def preset_deletion(project: ProjectView, name: str) -> PresetDeleted:
    presets = training_of(project).choices.presets
    if name not in presets:
        known = ", ".join(repr(p) for p in presets) or "none yet"
        raise ProjectError(f"there is no preset {name!r} (presets: {known})")
    return PresetDeleted(name)


def record(project: Project, event: Event) -> int:
    """Append a decision about runs to the ``models`` stream; returns its position."""
    return project.record(MODELS_STREAM, [event])


# --- formatting --------------------------------------------------------------------------------


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="seconds")


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def settings_text(config: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items())) or "defaults"


def labels_text(row: RunRow) -> str:
    if row.labels_start is None:
        return "—"
    return (
        str(row.labels_start)
        if row.labels_start == row.labels_end
        else f"{row.labels_start}→{row.labels_end}"
    )


def accuracy_text(row: RunRow) -> str:
    return "—" if row.accuracy is None else row.accuracy.text()


def _loss(metrics: dict[str, Any]) -> float | None:
    value = metrics.get("loss")
    return None if value is None else float(value)


def _time(at: Any, recorded_at: float) -> float:
    return float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else float(recorded_at)
