"""What the training service needs of a runner, and what a runner reports back.

Runners execute the one loop (``execution.execute``) somewhere — a thread, a worker
process — and report through ``RunReports``, always on the thread that owns the service.
The Qt runners of the window are in ``app.ui.training_runners``; nothing here knows Qt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from app.training.recorder import BlobWriter
from app.training.spec import EpochOutput, Progress, RunFailure, RunSpec


class RunReports(Protocol):
    """What a runner reports about the run it was started with."""

    def progressed(self, progress: Progress) -> None: ...

    def epoch_finished(self, output: EpochOutput) -> None: ...

    def finished(self) -> None:
        """Every planned epoch is done."""

    def stopped(self) -> None:
        """The run stopped at a step boundary, as asked."""

    def failed(self, failure: RunFailure) -> None: ...

    def log_line(self, line: str) -> None: ...


class TrainingRunner(Protocol):
    name: str

    def start(self, spec: RunSpec, reports: RunReports) -> None: ...

    def stop(self) -> None:
        """Ask the run to stop at its next step."""

    def kill(self) -> None:
        """End the run now (a worker process is killed; a thread cannot be)."""

    def update_labels(self, labels: np.ndarray, position: int) -> None:
        """Labels to train with from the next epoch on."""

    def is_running(self) -> bool: ...

    def wait(self, ms: int) -> bool:
        """Block until the run ended or ``ms`` passed; True when it ended."""

    def deliver_pending(self) -> None:
        """Deliver reports the run queued before it ended (at shutdown)."""

    def blob_writer(self) -> BlobWriter:
        """Where the run's blobs are written (``recorder.InlineBlobWriter`` writes at once;
        the window's runners write on a background thread)."""


RunnerFactory = Callable[[], TrainingRunner]
