"""Turns a run into events: the only code that writes training facts to the log.

Runners (inline, QThread, QProcess) report; the application — through a
``RunRecorder`` on the thread that owns the project — stores the blobs and appends what
the domain's rules (``domain.runs``) decide. Qt-free and JAX-free.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import secrets
from collections.abc import Callable
from importlib import metadata
from typing import Any, Protocol, TypeVar

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
from domain.projections.training import TrainingRun
from domain.training_events import CheckpointSaved, TrainingStarted, run_stream
from eventstore import ConcurrencyError

T = TypeVar("T")

RESUME_PREFIX = "resume."
"""Snapshot (cache) name prefix of a run's per-epoch resume point: ``resume.<run_id>``."""


class BlobWriter(Protocol):
    """Where a run's blobs are written: ``submit(work, then)`` runs ``work`` (maybe on
    another thread) and then calls ``then(result)`` on the thread that owns the project,
    in the order submitted; ``result`` is the exception when ``work`` raised. ``flush``
    waits until every ``then`` submitted so far has run; ``close`` ends the writer once
    what was submitted is done. The CLI writes inline; the window on a background thread
    (``app.ui.training_runners``)."""

    def submit(self, work: Callable[[], T], then: Callable[[T | BaseException], None]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class InlineBlobWriter:
    """Writes at once, on the caller's thread."""

    def submit(self, work: Callable[[], T], then: Callable[[T | BaseException], None]) -> None:
        try:
            result: T | BaseException = work()
        except Exception as exc:
            result = exc
        then(result)

    def flush(self) -> None:
        """Nothing is pending: every write was done at once."""

    def close(self) -> None:
        """Nothing to end."""


def _raised(result: T | BaseException) -> T:
    if isinstance(result, BaseException):
        raise result
    return result


def _resume_name(run_id: str) -> str:
    return f"{RESUME_PREFIX}{run_id}"


def _resume_payload(run_id: str, epoch: int, checkpoint: bytes) -> bytes:
    header = {"run_id": run_id, "epoch": epoch, "sha256": hashlib.sha256(checkpoint).hexdigest()}
    return json.dumps(header, sort_keys=True).encode() + b"\n" + checkpoint


def resume_point(project: Project, run: TrainingRun) -> tuple[int, bytes] | None:
    """The per-epoch resume point kept for ``run`` (its epoch and checkpoint bytes) when it
    is usable (``domain.runs.resume_point_usable``) and its bytes are the ones stored."""
    try:
        snapshot = project.load_cache(_resume_name(run.run_id))
    except Exception:  # a cache: anything wrong with it means there is none
        return None
    if snapshot is None:
        return None
    try:
        head, _, checkpoint = bytes(snapshot.payload).partition(b"\n")
        header = json.loads(head)
        epoch = int(header["epoch"])
        if header.get("run_id") != run.run_id or hashlib.sha256(checkpoint).hexdigest() != header["sha256"]:
            return None
    except (ValueError, KeyError, TypeError):
        return None
    if not runs.resume_point_usable(run, epoch, int(snapshot.position)):
        return None
    return epoch, checkpoint


def recover_on_open(project: Project) -> list[str]:
    """On opening a project for reading (``info``, the window): record ``TrainingInterrupted``
    for runs recorded as running whose trainer is gone (nobody holds the lease). A view
    that may not change the project writes nothing. Returns the runs' ids."""
    if project.read_only or not project.may_change or not project.state.training.running:
        return []
    lease = TrainingLease(project.address)
    try:
        if not lease.acquire():
            return []  # someone trains it now
    except ProjectError:
        return []  # a server that cannot be reached: say nothing rather than guess
    try:
        project.refresh()  # a run that ended while we looked is not interrupted
        return recover_interrupted(project, lease)
    finally:
        lease.release()


def library_versions() -> dict[str, str]:
    """Versions of what shapes the numbers, read without importing JAX."""
    out: dict[str, str] = {}
    for name in ("jax", "jaxlib", "flax", "optax", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def training_images(images: Any, cfg: TrainingConfig) -> np.ndarray:
    """The dataset (an array or ``DatasetImages``) at the run's training size
    (``domain.resample``): the stored array itself when the images already fit."""
    from domain.resample import to_training_size

    return to_training_size(images, int(getattr(cfg, "training_size", 0)))


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
    """Record ``TrainingInterrupted`` for runs whose app died mid-run; return the ids of
    those this call recorded. Each is appended at the run stream's version as this project
    read it, so when two workstations notice at once only the first records it (the other
    meets a conflict, catches up and sees the run ended)."""
    events = runs.interrupted(
        project.state.training,
        someone_trains=bool(project.state.training.running) and lease.someone_else_holds_it(),
    )
    recorded = []
    for event in events:
        stream = run_stream(event.run_id)
        try:
            project.record(stream, [event], project.stream_version(stream))
        except ConcurrencyError:
            project.refresh()  # recorded by someone else first, or the stream went on
            continue
        recorded.append(event.run_id)
    return recorded


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
        self.writer: BlobWriter = InlineBlobWriter()

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
        if len(info.class_names) < 2:
            have = "no classes" if not info.class_names else f"one class ({info.class_names[0]})"
            raise ProjectError(
                f"{project.address} has {have}; the model needs at least two to tell apart: "
                "add them with `ledgerlab add-class`, then train"
            )
        try:
            source = runs.source_to_continue(training, read_only=project.read_only, continue_run=False)
            latest = runs.latest_run(training) if continue_run else None
            if continue_run and (latest is None or resume_point(project, latest) is None):
                source = runs.source_to_continue(training, read_only=project.read_only, continue_run=True)
        except DomainError as exc:
            raise ProjectError(str(exc)) from None
        checkpoint, offset, continues = None, 0, None
        latest = runs.latest_run(training) if continue_run else None
        point = resume_point(project, latest) if latest is not None else None
        if latest is not None and point is not None:  # newer than any stored checkpoint
            offset, checkpoint = point
            continues = latest.run_id
        elif source is not None and source.checkpoint is not None:
            checkpoint = project.get_blob(source.checkpoint)
            offset, continues = source.checkpoint_epoch or 0, source.run_id
        share = runs.honest_holdout_share(training, continues, cfg.holdout_share)
        if share != cfg.holdout_share:  # its weights trained on labels it would score itself on
            cfg = dataclasses.replace(cfg, holdout_share=share)
        spec = RunSpec(
            run_id=secrets.token_hex(4),
            images=training_images(project.images(), cfg),
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

    def epoch(self, output: EpochOutput, then: Callable[[], None] | None = None) -> None:
        """Store the epoch's blobs (through ``writer``, maybe off this thread), then record
        its facts in one atomic append on this thread and call ``then``."""
        project = self.project
        due = runs.checkpoint_due(output.epoch, self.spec.epoch_offset + self.spec.config.epochs)
        run_id = self.run_id

        def store() -> runs.StoredEpoch:
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(output.probabilities, dtype=np.float32))
            samples, classes = output.probabilities.shape
            stored = runs.StoredEpoch(
                run_id=run_id,
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
            # The resume point: this epoch's checkpoint in the cache, so a kill loses at most
            # one epoch. Written before the epoch is appended; it only counts once the log
            # holds this epoch (domain.runs.resume_point_usable checks the epoch).
            if due:
                self._drop_resume_point()
            else:
                self._save_resume_point(position, output)
            return stored

        def record(result: runs.StoredEpoch | BaseException) -> None:
            self._record(runs.epoch_completed(_raised(result)))
            if then is not None:
                then()

        position = project.position
        self._unsaved = None if due else output
        self.epochs_recorded += 1
        self.writer.submit(store, record)

    def _save_resume_point(self, position: int, output: EpochOutput) -> None:
        with contextlib.suppress(Exception):  # a cache: a run goes on without it
            self.project.save_cache(
                _resume_name(self.run_id),
                position,
                _resume_payload(self.run_id, output.epoch, output.checkpoint),
            )

    def _drop_resume_point(self) -> None:
        with contextlib.suppress(Exception):  # a cache: nothing is lost without it
            self.project.drop_cache(_resume_name(self.run_id))

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
            epochs = self.epochs_recorded

            def store() -> CheckpointSaved | None:
                saved = self._checkpoint(unsaved) if unsaved else None
                self._drop_resume_point()  # the run's last epoch is stored for good now
                return saved

            def record(result: CheckpointSaved | None | BaseException) -> None:
                self._record(runs.run_ended(self.run_id, epochs, end, _raised(result)))

            self.writer.submit(store, record)

    def _record(self, events: list[Event]) -> None:
        self.project.record(self.stream, events, self._version)
        self._version += len(events)
