"""Turns a run into events: the only code that writes training facts to the log.

Runners (inline, QThread, QProcess) report; the application — through a
``RunRecorder`` on the thread that owns the project — stores the blobs and appends what
the domain's rules (``domain.runs``) decide. Qt-free and JAX-free.
"""

from __future__ import annotations

import io
import secrets
from importlib import metadata
from typing import Any

import numpy as np

from app.project.errors import ProjectError
from app.project.live import Project
from app.training.lease import TrainingLease
from app.training.spec import EpochOutput, RunSpec
from domain import runs
from domain.errors import DomainError
from domain.events import Event
from domain.initial_map import encode_map
from domain.learning.config import ConfigError, TrainingConfig
from domain.training_events import CheckpointSaved, TrainingStarted, run_stream


def library_versions() -> dict[str, str]:
    """Versions of what shapes the numbers, read without importing JAX."""
    out: dict[str, str] = {}
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


def recover_interrupted(project: Project, lease: TrainingLease) -> list[str]:
    """Record ``TrainingInterrupted`` for runs whose app died mid-run; return their ids."""
    events = runs.interrupted(
        project.state.training,
        someone_trains=bool(project.state.training.running) and lease.someone_else_holds_it(),
    )
    for event in events:
        project.record(run_stream(event.run_id), [event])
    return [event.run_id for event in events]


class RunRecorder:
    """Begins a run, records each epoch atomically, and ends it — in that order."""

    def __init__(self, project: Project, spec: RunSpec, runner: str) -> None:
        self.project = project
        self.spec = spec
        self.runner = runner
        self.run_id = spec.run_id
        self.stream = run_stream(spec.run_id)
        self.epochs_recorded = 0
        self.ended = False
        self._version = 0  # the run stream is this recorder's alone: appends expect it
        self._unsaved: EpochOutput | None = None  # the last epoch whose checkpoint is not stored
        self._first_loss: float | None = None  # this run's first epoch's, the scale of divergence

    @classmethod
    def prepare(
        cls,
        project: Project,
        config: dict[str, Any],
        *,
        epochs: int | None = None,
        runner: str = "inline",
        continue_run: bool = False,
        seed: int | None = None,
        compilation_cache: str | None = None,
    ) -> RunRecorder:
        """Validate, build the run's spec from the log, and record that it started."""
        cfg = checked_config(config, epochs)
        info, training = project.info, project.state.training
        try:
            source = runs.source_to_continue(training, read_only=project.read_only, continue_run=continue_run)
        except DomainError as exc:
            raise ProjectError(str(exc)) from None
        checkpoint, offset, continues = None, 0, None
        if source is not None and source.checkpoint is not None:
            checkpoint = project.get_blob(source.checkpoint)
            offset, continues = source.checkpoint_epoch or 0, source.run_id
        spec = RunSpec(
            run_id=secrets.token_hex(4),
            images=project.images(),
            labels=np.asarray(project.labels.labels, dtype=np.int32).copy(),
            labels_position=project.position,
            config=cfg,
            seed=cfg.seed if seed is None else int(seed),
            num_classes=len(info.class_names),
            epoch_offset=offset,
            checkpoint=checkpoint,
            previous_map=project.latent_map(),
            compilation_cache=compilation_cache,
        )
        recorder = cls(project, spec, runner)
        recorder._record(
            runs.run_started(
                training,
                TrainingStarted(
                    run_id=spec.run_id,
                    config=cfg.to_dict(),
                    seed=spec.seed,
                    epochs=cfg.epochs,
                    labels_position=spec.labels_position,
                    dataset_sha256=info.dataset_sha256,
                    versions=library_versions(),
                    runner=runner,
                    epoch_offset=offset,
                    start_checkpoint=project.put_blob(checkpoint) if checkpoint else None,
                    continues=continues,
                ),
            )
        )
        return recorder

    def epoch(self, output: EpochOutput) -> None:
        """Store the epoch's blobs, then record its facts in one atomic append."""
        project = self.project
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(output.probabilities, dtype=np.float32))
        samples, classes = output.probabilities.shape
        due = runs.checkpoint_due(output.epoch, self.spec.epoch_offset + self.spec.config.epochs)
        self._record(
            runs.epoch_completed(
                runs.StoredEpoch(
                    run_id=self.run_id,
                    epoch=output.epoch,
                    metrics=output.metrics,
                    labels_position=output.labels_position,
                    labeled=output.labeled,
                    map_sha256=project.put_blob(encode_map(output.latent_map)),
                    map_dims=int(output.latent_map.shape[1]),
                    predictions_sha256=project.put_blob(buffer.getvalue()),
                    samples=samples,
                    classes=classes,
                    meaningful=output.meaningful,
                    checkpoint=self._checkpoint(output) if due else None,
                )
            )
        )
        self._unsaved = None if due else output
        self.epochs_recorded += 1

    def divergence(self, output: EpochOutput) -> str | None:
        """Why the run must stop before ``output`` is recorded (its loss diverged), or
        None. A diverged epoch is never recorded: its predictions and map are noise, and
        the run ends with the last good epoch's checkpoint, ready to continue from."""
        loss = output.metrics.get("loss")
        if self._first_loss is None and loss is not None:
            self._first_loss = float(loss)
        return runs.divergence(
            output.metrics, self._first_loss, self.spec.config.learning_rate, epoch=output.epoch
        )

    def failure_message(self, error: str) -> str:
        """What to record of a loop that raised ``error`` ("TypeName: text"): a plain
        sentence when its numbers broke down (a diverged loss), else the error itself."""
        epoch = self.spec.epoch_offset + self.epochs_recorded + 1
        return runs.numerical_breakdown(error, self.spec.config.learning_rate, epoch=epoch) or error

    def _checkpoint(self, output: EpochOutput) -> CheckpointSaved:
        sha = self.project.put_blob(output.checkpoint)
        return CheckpointSaved(self.run_id, output.epoch, sha, len(output.checkpoint))

    def completed(self) -> None:
        self._end(runs.Completed())

    def stopped(self, reason: str = "stopped by the user") -> None:
        self._end(runs.Stopped(reason))

    def failed(
        self,
        message: str,
        exit_code: int | None = None,
        signal: int | None = None,
        stderr_tail: tuple[str, ...] = (),
    ) -> None:
        self._end(runs.Failed(message, exit_code, signal, tuple(stderr_tail)))

    def _end(self, end: runs.RunEnd) -> None:
        if not self.ended:
            self.ended = True
            unsaved, self._unsaved = self._unsaved, None
            self._record(
                runs.run_ended(
                    self.run_id, self.epochs_recorded, end, self._checkpoint(unsaved) if unsaved else None
                )
            )

    def _record(self, events: list[Event]) -> None:
        self.project.record(self.stream, events, self._version)
        self._version += len(events)
