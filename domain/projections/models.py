"""ModelRegistry: the training runs together with a person's decisions about them (the
chosen run, the archived ones, the presets), folded in one read model so that
``latest_predictions`` answers with the run that drives the window.

The composition root folds this in place of a bare ``TrainingRuns`` (same ``name``);
a ``TrainingRuns`` built by a tool whose registry lacks ``domain.model_events`` simply
has no choices.
"""

from __future__ import annotations

from domain.projections.training import TrainingRuns


class ModelRegistry(TrainingRuns):
    name = "training"

    def __init__(self) -> None:
        super().__init__()
        self.handlers.update(self.choices.handlers)
