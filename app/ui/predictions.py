"""The model's latest class probabilities, shared by the map, the viewer and the
"most uncertain" key.

``Project.predictions()`` reads (and re-hashes) a blob on every call; the window asks
for predictions on every label, so they are read once per ``PredictionsComputed``.
Older projects (or a project before the training module existed) have none.
"""

from __future__ import annotations

import numpy as np

from domain.training_events import PredictionsComputed

NEW_PREDICTIONS = PredictionsComputed.type_name


class LatestPredictions:
    def __init__(self) -> None:
        self._project = None
        self._value: np.ndarray | None = None

    def bind(self, project) -> None:
        self._project, self._value = project, None

    def on_change(self, change) -> bool:
        """Forget what was read when ``change`` brought new predictions; True if it did."""
        if any(e.type == NEW_PREDICTIONS for e in change.events):
            self._value = None
            return True
        return False

    def get(self) -> np.ndarray | None:
        """(samples × classes) float32, or None before any model has predicted."""
        if self._value is None and self._project is not None:
            # None is not kept: asking again is cheap while there are none.
            self._value = self._project.predictions()
        return self._value
