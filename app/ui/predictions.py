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
        self._read_from: str | None = None

    def bind(self, project) -> None:
        self._project, self._value = project, None
        self._read_from = self._driving()  # the blob the predictions come from

    def on_change(self, change) -> bool:
        """Forget what was read when ``change`` brought new predictions, or changed which
        run's predictions drive the window (``RunChosen``, archiving, a new run); True if so."""
        driving = self._driving()
        if driving != self._read_from or any(e.type == NEW_PREDICTIONS for e in change.events):
            self._value, self._read_from = None, driving
            return True
        return False

    def _driving(self) -> str | None:
        training = None if self._project is None else self._project.state.extras.get("training")
        found = getattr(training, "latest_predictions", None)
        return None if found is None else found.sha256

    def get(self) -> np.ndarray | None:
        """(samples × classes) float32, or None before any model has predicted."""
        if self._value is None and self._project is not None:
            # None is not kept: asking again is cheap while there are none.
            self._value = self._project.predictions()
        return self._value
