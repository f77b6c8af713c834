"""The rules of a training run's life, as pure deciders.

When a run may start (and what it continues from), which events an epoch's result
becomes, when a checkpoint is due, and how a run's end (completed, stopped, failed,
interrupted) is recorded. The application stores the blobs and appends what these
functions return (``app.training.recorder``); nothing here touches a store, a thread
or a file, so every rule is unit-tested on plain values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.errors import DomainError
from domain.events import Event, LatentMapComputed
from domain.projections.training import TrainingRun, TrainingRuns
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

CHECKPOINT_EVERY = 5
"""Epochs between stored checkpoints. A checkpoint (weights and optimiser state, about
19 MB for the default model) every epoch would grow a mailed project file by hundreds of
MB per run; the last epoch of a run is always stored however the run ends, so only a
hard kill of the app itself can lose up to CHECKPOINT_EVERY - 1 epochs of progress."""

MAP_METHOD = "vae-class-polygon"
STDERR_LINES_KEPT = 20


def source_to_continue(training: TrainingRuns, *, read_only: bool, continue_run: bool) -> TrainingRun | None:
    """Whether a run may start now, and which earlier run it continues (None: a fresh one).

    Raises ``DomainError`` saying what to do when it may not.
    """
    if read_only:
        raise DomainError("this view of the project is read-only: go back to now to train")
    if training.running:
        raise DomainError(
            f"run {training.running[0].run_id} is still training this project: "
            "stop it first (one run at a time)"
        )
    if not continue_run:
        return None
    source = next((r for r in reversed(training.runs.values()) if r.checkpoint), None)
    if source is None:
        raise DomainError("there is no earlier run with a checkpoint to continue from")
    return source


def run_started(training: TrainingRuns, started: TrainingStarted) -> list[Event]:
    """A run's first events: its configuration when it is new, then that it started."""
    new_config = training.config != started.config
    return [*([ModelConfigured(started.config)] if new_config else []), started]


def checkpoint_due(epoch: int, last_planned_epoch: int) -> bool:
    """Every CHECKPOINT_EVERY epochs, and always at a run's last planned epoch."""
    return epoch == last_planned_epoch or epoch % CHECKPOINT_EVERY == 0


@dataclass(frozen=True)
class StoredEpoch:
    """An epoch's result once its blobs are stored: what the events refer to."""

    run_id: str
    epoch: int
    metrics: Mapping[str, float | None]
    labels_position: int
    labeled: int
    map_sha256: str
    map_dims: int
    predictions_sha256: str
    samples: int
    classes: int
    meaningful: bool
    checkpoint: CheckpointSaved | None  # present when a checkpoint was due


def epoch_completed(stored: StoredEpoch) -> list[Event]:
    """The events one epoch becomes, appended together so none is seen without the others."""
    return [
        EpochCompleted(
            stored.run_id,
            stored.epoch,
            finite_metrics(stored.metrics),
            stored.labels_position,
            stored.labeled,
        ),
        *([stored.checkpoint] if stored.checkpoint is not None else []),
        LatentMapComputed(stored.map_sha256, stored.samples, stored.map_dims, MAP_METHOD, stored.run_id),
        PredictionsComputed(
            stored.run_id,
            stored.epoch,
            stored.predictions_sha256,
            stored.samples,
            stored.classes,
            stored.meaningful,
        ),
    ]


@dataclass(frozen=True)
class Completed:
    pass


@dataclass(frozen=True)
class Stopped:
    reason: str = "stopped by the user"


@dataclass(frozen=True)
class Failed:
    message: str
    exit_code: int | None = None
    signal: int | None = None
    stderr_tail: tuple[str, ...] = ()


RunEnd = Completed | Stopped | Failed


def run_ended(
    run_id: str, epochs_recorded: int, end: RunEnd, unsaved: CheckpointSaved | None = None
) -> list[Event]:
    """A run's last events: the checkpoint of its last epoch if that one was not stored
    yet (so a run can always be continued from where it ended), then how it ended."""
    last: Event
    if isinstance(end, Completed):
        last = TrainingCompleted(run_id, epochs_recorded)
    elif isinstance(end, Stopped):
        last = TrainingStopped(run_id, epochs_recorded, end.reason)
    else:
        last = TrainingFailed(
            run_id,
            epochs_recorded,
            end.message,
            end.exit_code,
            end.signal,
            tuple(end.stderr_tail)[-STDERR_LINES_KEPT:],
        )
    return [*([unsaved] if unsaved is not None else []), last]


def interrupted(training: TrainingRuns, *, someone_trains: bool) -> list[TrainingInterrupted]:
    """Runs recorded as running whose trainer is gone (nobody holds the project's training
    lease): each is recorded as interrupted. A run going on elsewhere is left alone."""
    if someone_trains:
        return []
    return [TrainingInterrupted(run.run_id, len(run.epochs)) for run in training.running]


def finite_metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """Metrics as JSON can hold them: NaN and infinities become None."""
    return {
        key: None if value is None or not math.isfinite(float(value)) else float(value)
        for key, value in metrics.items()
    }


# -- divergence ------------------------------------------------------------------------

DIVERGED_FACTOR = 100.0
"""An epoch's loss this many times the run's first epoch's (two orders of magnitude) is a
run that diverged. A healthy run's loss falls after its first epoch (it is the highest
one); measured on the tiny test model at learning rate 1, even a first epoch that blew
up to 48,342 came back to a few hundred, never above it."""

NUMERICAL_ERRORS = ("LinAlgError", "FloatingPointError", "OverflowError")
"""Errors a loop raises when its numbers became NaN or infinite (the map's eigenvectors
of NaN weights do not converge): read as a loss that diverged."""


def divergence(
    metrics: Mapping[str, float | None], first_loss: float | None, learning_rate: float, *, epoch: int
) -> str | None:
    """Why the run must stop because its loss diverged at ``epoch``, or None when it did not:
    the loss is NaN or infinite (or missing: recorded metrics hold a non-finite value as
    None), or more than DIVERGED_FACTOR times the first epoch's loss."""
    if "loss" not in metrics:
        return None
    loss = metrics["loss"]
    if loss is None or not math.isfinite(loss):
        shown = "infinite" if loss is not None and math.isinf(loss) else "not a number"
        return _diverged(f"the loss diverged at epoch {epoch} (it is {shown})", learning_rate)
    if (
        first_loss is not None
        and math.isfinite(first_loss)
        and first_loss > 0
        and loss > DIVERGED_FACTOR * first_loss
    ):
        return _diverged(
            f"the loss diverged at epoch {epoch} ({loss:.4g}, {loss / first_loss:,.0f} times the first epoch's)",
            learning_rate,
        )
    return None


class LossDiverged(ArithmeticError):
    """Raised by the training loop at the first step whose loss diverged; its text is the
    sentence to record (``step_divergence``)."""


def step_divergence(
    loss: float, scale: float | None, learning_rate: float, *, epoch: int, step: int
) -> str | None:
    """Why the run must stop at ``step`` (1-based, within ``epoch``), or None: the step's
    loss is NaN or infinite, or more than DIVERGED_FACTOR times ``scale`` (the run's first
    step's loss, when finite and positive). The loop checks the losses it reads back for
    the epoch anyway, so this costs no device synchronisation."""
    where = f"epoch {epoch}, step {step}"
    if not math.isfinite(loss):
        shown = "infinite" if math.isinf(loss) else "not a number"
        return _diverged(f"the loss diverged at {where} (it is {shown})", learning_rate)
    if scale is not None and math.isfinite(scale) and scale > 0 and loss > DIVERGED_FACTOR * scale:
        return _diverged(
            f"the loss diverged at {where} ({loss:.4g}, {loss / scale:,.0f} times the first step's)",
            learning_rate,
        )
    return None


def numerical_breakdown(error: str, learning_rate: float, *, epoch: int) -> str | None:
    """A plain message for a run whose loop raised ``error`` ("TypeName: text") because its
    numbers broke down, or None when the error is of another kind."""
    kind, _, text = error.partition(": ")
    if kind == LossDiverged.__name__ and text:
        return text  # the loop's own sentence, with the epoch and step
    if kind not in NUMERICAL_ERRORS:
        return None
    return _diverged(
        f"the training's numbers broke down at epoch {epoch} ({text or kind}): the loss most likely diverged",
        learning_rate,
    )


def _diverged(what: str, learning_rate: float) -> str:
    return f"{what}; lower the learning rate, now {float(learning_rate)}"


# -- resume points ---------------------------------------------------------------------


def resume_point_usable(run: TrainingRun, epoch: int, position: int) -> bool:
    """Whether a per-epoch resume point of ``run`` (a cache beside the log, kept after each
    epoch whose checkpoint was not stored) may be continued from instead of the run's last
    stored checkpoint: it is of the run's last recorded epoch, newer than that checkpoint,
    and was written within the run's part of the log."""
    return (
        not run.status == "running"
        and bool(run.epochs)
        and epoch == run.epochs[-1]
        and epoch > (run.checkpoint_epoch if run.checkpoint_epoch is not None else run.epoch_offset)
        and position >= run.started_position
        and (run.ended_position is None or position < run.ended_position)
    )


def latest_run(training: TrainingRuns) -> TrainingRun | None:
    """The most recently started run, the one a resume point may continue."""
    return next(reversed(training.runs.values()), None)


def honest_holdout_share(training: TrainingRuns, continues: str | None, share: float) -> float:
    """The held-out share a run may keep out when it starts from ``continues``' weights.

    Held-out sets are nested (a sample is held out at share s when its hash is below s),
    so weights that never saw the samples below s' can be scored honestly at any share
    up to s'. A run that held out nothing (the share off, or too few labels at its start)
    trained on every label, and a run continued from it can hold out nothing honestly.
    The answer is the smallest share along the chain of runs the weights come from.
    """
    seen: set[str] = set()
    while continues is not None and continues not in seen and share > 0:
        seen.add(continues)
        run = training.runs.get(continues)
        if run is None:
            break
        held = any(m.get("heldout_n") is not None for m in run.metrics)
        share = min(share, float(run.config.get("holdout_share", 0.0) or 0.0) if held else 0.0)
        continues = run.continues
    return share
