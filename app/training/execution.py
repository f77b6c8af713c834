"""Runs the domain's one training loop for a ``RunSpec``: the code every runner shares.

The inline (CLI) runner, the QThread runner and the QProcess worker all call
``execute``; none of them has a loop of its own. JAX is imported here, lazily, so a GUI
that trains in a worker process never loads it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

import numpy as np

from app.training.spec import EpochOutput, Progress, RunSpec

if TYPE_CHECKING:
    from app.training.programs import FolderProgramStore

PROGRESS_INTERVAL_S = 0.1  # about 10 progress updates a second, whatever the step rate


class LiveLabels:
    """The newest labels handed in while a run trains; read at each epoch start."""

    def __init__(self, labels: np.ndarray, position: int) -> None:
        self._lock = threading.Lock()
        self._labels, self._position = labels, position
        self._fresh = False

    def update(self, labels: np.ndarray, position: int) -> None:
        with self._lock:
            if position > self._position:
                self._labels, self._position, self._fresh = labels, position, True

    def take(self) -> tuple[np.ndarray | None, int]:
        """The labels to train the next epoch with (None when unchanged) and their position."""
        with self._lock:
            fresh, self._fresh = self._fresh, False
            return (self._labels if fresh else None), self._position


def _program_store(compilation_cache: str | None) -> FolderProgramStore | None:
    """Compiled programs beside JAX's compilation cache (``…/jax-programs``), or none."""
    if not compilation_cache:
        return None
    from app.training.programs import FolderProgramStore

    try:
        return FolderProgramStore(compilation_cache.rstrip("/\\") + "-programs")
    except OSError:  # the code's own source is unreadable: no safe key, so nothing is kept
        return None


def execute(
    spec: RunSpec,
    should_stop: Callable[[], bool],
    live: LiveLabels | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Generator[EpochOutput, None, None]:
    from domain.learning.training import TrainingJob, train

    # Compiled programs are kept between processes; JAX's own persistent cache is not
    # used (executables compiled after a load from it cannot be kept: see
    # domain.learning.programs). Process-wide settings (the allocator) are the business
    # of a training process's entry point (the worker, the CLI), never of the window.
    programs = _program_store(spec.compilation_cache)
    config = spec.config
    job = TrainingJob(
        images=spec.images,
        labels=spec.labels,
        config=config,
        num_classes=spec.num_classes,
        seed=spec.seed,
        checkpoint=spec.checkpoint,
        epoch_offset=spec.epoch_offset,
        previous_map=spec.previous_map,
        programs=programs,
    )
    live = live or LiveLabels(spec.labels, spec.labels_position)
    used = {"position": spec.labels_position, "epoch": spec.epoch_offset + 1}
    clock = {"epoch_start": time.monotonic(), "last": 0.0}

    def labels_for_epoch(epoch: int) -> np.ndarray | None:
        labels, position = live.take()
        used["position"], used["epoch"] = position, epoch
        clock["epoch_start"] = time.monotonic()
        return labels

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if on_progress is None or (now - clock["last"] < PROGRESS_INTERVAL_S and done < total):
            return
        clock["last"] = now
        elapsed = now - clock["epoch_start"]
        remaining_epochs = spec.epoch_offset + config.epochs - used["epoch"]
        per_step = elapsed / done if done else None
        eta = None if per_step is None else per_step * ((total - done) + remaining_epochs * total)
        on_progress(Progress(spec.run_id, used["epoch"], done, total, eta))

    for result in train(job, should_stop, labels_for_epoch=labels_for_epoch, on_progress=progress):
        yield EpochOutput(
            run_id=spec.run_id,
            epoch=result.epoch,
            metrics=dict(result.metrics),
            checkpoint=result.checkpoint,
            probabilities=np.asarray(result.probabilities, np.float32),
            latent_map=np.asarray(result.latent_map, np.float32),
            meaningful=bool(result.predictions_meaningful),
            labels_position=used["position"],
            labeled=int(result.labeled_count),
        )
