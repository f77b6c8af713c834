"""What a run needs and what an epoch gives back, as plain data (no JAX, no Qt).

``RunSpec`` is built by the application from the log; every runner turns it into the
domain's ``TrainingJob``. ``EpochOutput`` is what every runner reports per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from domain.learning.config import TrainingConfig


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    images: np.ndarray  # uint8, N×H×W (or N×D)
    labels: np.ndarray  # int32, -1 = unlabeled
    labels_position: int  # the log position those labels are as of
    config: TrainingConfig  # epochs included; built once, from the form or the CLI
    seed: int
    num_classes: int
    epoch_offset: int = 0
    checkpoint: bytes | None = None
    previous_map: np.ndarray | None = None
    compilation_cache: str | None = None  # compiled programs are kept in ``…-programs``


@dataclass(frozen=True)
class EpochOutput:
    run_id: str
    epoch: int
    metrics: dict[str, float | None]
    checkpoint: bytes
    probabilities: np.ndarray  # float32, N×C
    latent_map: np.ndarray  # float32, N×2
    meaningful: bool
    labels_position: int
    labeled: int


@dataclass(frozen=True)
class Progress:
    run_id: str
    epoch: int
    step: int
    steps: int
    eta_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "epoch": self.epoch,
            "step": self.step,
            "steps": self.steps,
            "eta_s": self.eta_s,
        }


@dataclass(frozen=True)
class RunFailure:
    """How a run failed, as its runner saw it."""

    message: str
    exit_code: int | None = None
    signal: int | None = None
    stderr_tail: tuple[str, ...] = ()


# -- what the training service tells its listeners (the window, the CLI) ------------------


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    epochs: int
    runner: str


@dataclass(frozen=True)
class EpochRecorded:
    run_id: str
    epoch: int
    metrics: dict[str, float | None]  # non-finite values are None


@dataclass(frozen=True)
class RunEnded:
    run_id: str
    status: str  # "completed", "stopped" or "failed"
    message: str


@dataclass(frozen=True)
class LogLine:
    run_id: str
    line: str
