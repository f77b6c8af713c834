"""Events of runs as models: which run drives the window, which runs are put away, and
named training settings (presets).

Recorded by the application (``app/cli/runs.py``, the Runs panel) in the ``models``
stream. None of them changes a run: a run's own stream (``run-<id>``) stays what the
runner recorded; these are a person's decisions about runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from domain.events import Event

MODELS_STREAM = "models"


@dataclass(frozen=True)
class RunChosen(Event):
    """The person chose run ``run_id`` to drive the window: the map colours, the viewer's
    probabilities, the most uncertain key and the suggestions use its predictions
    until another run is chosen or a new run starts. An empty ``run_id`` goes back to
    the default (the newest predictions)."""

    type_name: ClassVar[str] = "RunChosen"
    run_id: str

    def summary(self, names: Sequence[str] = ()) -> str:
        if not self.run_id:
            return "the newest run's predictions drive the window again"
        return f"run {self.run_id} chosen: its predictions drive the window"


@dataclass(frozen=True)
class RunArchived(Event):
    """Run ``run_id`` was put away: hidden from the lists unless asked for, never deleted."""

    type_name: ClassVar[str] = "RunArchived"
    run_id: str

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"run {self.run_id} archived"


@dataclass(frozen=True)
class RunUnarchived(Event):
    type_name: ClassVar[str] = "RunUnarchived"
    run_id: str

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"run {self.run_id} taken out of the archive"


@dataclass(frozen=True)
class PresetSaved(Event):
    """Training settings saved under a name (``config`` as ``TrainingConfig.to_dict()``,
    possibly partial: fields left out take their defaults). A later save of the same
    name replaces it."""

    type_name: ClassVar[str] = "PresetSaved"
    name: str
    config: dict[str, Any]

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"settings saved as {self.name!r} ({len(self.config)} settings)"


@dataclass(frozen=True)
class PresetDeleted(Event):
    type_name: ClassVar[str] = "PresetDeleted"
    name: str

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"settings {self.name!r} deleted"


MODEL_EVENTS: tuple[type[Event], ...] = (RunChosen, RunArchived, RunUnarchived, PresetSaved, PresetDeleted)
