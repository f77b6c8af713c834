"""What a view may read of a project: ``ProjectView``.

The window shows either the live project (``app.project.live.Project``) or the project
as of a past position (``app.ui.history_source.PastProject``); both implement this
protocol explicitly, so a view reads one or the other through the same typed names.
Commands (labeling, training) are not part of it: a view of the past cannot change.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from domain.projections import LabelSet, ProjectInfo, ProjectProjections

if TYPE_CHECKING:
    from app.project.dataset_store import DatasetImages


class ProjectView(Protocol):
    path: Path
    annotator: str
    read_only: bool

    @property
    def position(self) -> int:
        """The last position of the log this view shows."""

    @property
    def event_count(self) -> int: ...

    @property
    def state(self) -> ProjectProjections:
        """Every read model as of ``position``; never mutate it."""

    @property
    def info(self) -> ProjectInfo: ...

    @property
    def labels(self) -> LabelSet: ...

    def images(self) -> DatasetImages:
        """The dataset (uint8, N×H×W or N×H×W×C), read lazily: ``[i]`` reads one chunk,
        ``np.asarray`` all of it."""

    def latent_map(self) -> np.ndarray | None:
        """The 2-D map shown (float32, samples × 2), or None before any."""

    def predictions(self) -> np.ndarray | None:
        """The latest model's class probabilities (float32, samples × classes), or None."""

    def can_undo(self) -> bool: ...

    def can_redo(self) -> bool: ...
