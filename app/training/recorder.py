"""Turns a run into events: the only code that writes training facts to the log.

Runners (inline, QThread, QProcess) report; the application — through a
``RunRecorder`` on the thread that owns the project — appends. Qt-free and JAX-free.
"""

from __future__ import annotations

import io
import secrets
from importlib import metadata
from typing import Any

import numpy as np

from app.project.errors import ProjectError
from app.training.lease import TrainingLease
from app.training.spec import EpochOutput, RunSpec
from domain.events import LatentMapComputed
from domain.initial_map import encode_map
from domain.learning.config import ConfigError, TrainingConfig
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
    run_stream,
)


def library_versions() -> dict[str, str]:
    """Versions of what shapes the numbers, read without importing JAX."""
    out = {}
    for name in ("jax", "jaxlib", "flax", "optax", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def checked_config(config: dict[str, Any], epochs: int | None = None) -> TrainingConfig:
    """A validated config (with ``epochs`` overriding), or a ProjectError saying what to fix."""
    # Settings not given (a form shows only some; a config recorded by an older release
    # lacks newer ones) take today's defaults. Only a rerun of a recorded run rebuilds the
    # config as recorded (TrainingConfig.from_dict), so old runs still reproduce.
    merged = {**TrainingConfig().to_dict(), **config}
    if epochs is not None:
        merged["epochs"] = epochs
    try:
        return TrainingConfig.from_dict(merged)
    except (ConfigError, TypeError, ValueError) as exc:
        raise ProjectError(f"the training settings are not valid: {exc}") from None


def recover_interrupted(project, lease: TrainingLease) -> list[str]:
    """Record ``TrainingInterrupted`` for runs whose app died mid-run; return their ids.

    A run counts as interrupted only when nobody holds the project's training lease:
    a run going on in another window or process is left alone.
    """
    running = project.state.training.running
    if not running or lease.someone_else_holds_it():
        return []
    for run in running:
        project.record(
            run_stream(run.run_id),
            [TrainingInterrupted(run.run_id, len(run.epochs))],
        )
    return [run.run_id for run in running]


CHECKPOINT_EVERY = 5
"""Epochs between stored checkpoints. A checkpoint (weights and optimiser state, about
19 MB for the default model) every epoch would grow a mailed project file by hundreds of
MB per run; the last epoch of a run is always stored however the run ends, so only a
hard kill of the app itself can lose up to CHECKPOINT_EVERY - 1 epochs of progress."""


class RunRecorder:
    """Begins a run, records each epoch atomically, and ends it — in that order."""

    def __init__(self, project, spec: RunSpec, runner: str) -> None:
        self.project = project
        self.spec = spec
        self.runner = runner
        self.run_id = spec.run_id
        self.stream = run_stream(spec.run_id)
        self.epochs_recorded = 0
        self.ended = False
        self._version = 0  # the run stream is this recorder's alone: appends expect it
        self._unsaved: EpochOutput | None = None  # the last epoch whose checkpoint is not stored

    @classmethod
    def prepare(
        cls,
        project,
        config: dict[str, Any],
        *,
        epochs: int | None = None,
        runner: str = "inline",
        continue_run: bool = False,
        seed: int | None = None,
        compilation_cache: str | None = None,
    ) -> RunRecorder:
        """Validate, build the run's spec from the log, and record that it started."""
        if project.read_only:
            raise ProjectError("this view of the project is read-only: go back to now to train")
        cfg = checked_config(config, epochs)
        info, training = project.info, project.state.training
        if training.running:
            raise ProjectError(
                f"run {training.running[0].run_id} is still training this project: "
                "stop it first (one run at a time)"
            )
        checkpoint, offset, continues, previous_map = None, 0, None, project.latent_map()
        if continue_run:
            source = next((r for r in reversed(training.runs.values()) if r.checkpoint), None)
            if source is None:
                raise ProjectError("there is no earlier run with a checkpoint to continue from")
            checkpoint = project.get_blob(source.checkpoint)
            offset, continues = source.checkpoint_epoch, source.run_id
        spec = RunSpec(
            run_id=secrets.token_hex(4),
            images=project.images(),
            labels=np.asarray(project.labels.labels, dtype=np.int32).copy(),
            labels_position=project.position,
            config=cfg.to_dict(),
            seed=cfg.seed if seed is None else int(seed),
            num_classes=len(info.class_names),
            epoch_offset=offset,
            checkpoint=checkpoint,
            previous_map=previous_map,
            compilation_cache=compilation_cache,
        )
        recorder = cls(project, spec, runner)
        started = [] if training.config == spec.config else [ModelConfigured(spec.config)]
        started.append(TrainingStarted(
            run_id=spec.run_id, config=spec.config, seed=spec.seed, epochs=cfg.epochs,
            labels_position=spec.labels_position, dataset_sha256=info.dataset_sha256,
            versions=library_versions(), runner=runner, epoch_offset=offset,
            start_checkpoint=project.put_blob(checkpoint) if checkpoint else None,
            continues=continues,
        ))
        recorder._record(started)
        return recorder

    def epoch(self, output: EpochOutput) -> None:
        """Store the epoch's blobs, then record its facts in one atomic append."""
        project = self.project
        latent = project.put_blob(encode_map(output.latent_map))
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(output.probabilities, dtype=np.float32))
        predictions = project.put_blob(buffer.getvalue())
        samples, classes = output.probabilities.shape
        last_planned = self.spec.epoch_offset + self.spec.config["epochs"]
        keep = output.epoch == last_planned or output.epoch % CHECKPOINT_EVERY == 0
        self._record([
            EpochCompleted(self.run_id, output.epoch, _json_metrics(output.metrics),
                           output.labels_position, output.labeled),
            *([self._checkpoint(output)] if keep else []),
            LatentMapComputed(latent, samples, int(output.latent_map.shape[1]), "vae-class-polygon",
                              self.run_id),
            PredictionsComputed(self.run_id, output.epoch, predictions, samples, classes,
                                output.meaningful),
        ])
        self._unsaved = None if keep else output
        self.epochs_recorded += 1

    def _checkpoint(self, output: EpochOutput) -> CheckpointSaved:
        sha = self.project.put_blob(output.checkpoint)
        return CheckpointSaved(self.run_id, output.epoch, sha, len(output.checkpoint))

    def completed(self) -> None:
        self._end(TrainingCompleted(self.run_id, self.epochs_recorded))

    def stopped(self, reason: str = "stopped by the user") -> None:
        self._end(TrainingStopped(self.run_id, self.epochs_recorded, reason))

    def failed(self, message: str, exit_code: int | None = None, signal: int | None = None,
               stderr_tail: tuple[str, ...] = ()) -> None:
        self._end(TrainingFailed(self.run_id, self.epochs_recorded, message, exit_code, signal,
                                 tuple(stderr_tail)[-20:]))

    def _end(self, event) -> None:
        if not self.ended:
            self.ended = True
            unsaved, self._unsaved = self._unsaved, None
            self._record([*([self._checkpoint(unsaved)] if unsaved else []), event])

    def _record(self, events) -> None:
        self.project.record(self.stream, events, self._version)
        self._version += len(events)


def _json_metrics(metrics: dict[str, Any]) -> dict[str, float | None]:
    out = {}
    for key, value in metrics.items():
        out[key] = None if value is None or not np.isfinite(value) else float(value)
    return out
