"""RunChoices: a person's decisions about runs — the chosen run, the archived ones —
and the named training settings (presets).

Folded as part of ``TrainingRuns`` (``training.choices``), which needs the choice to
answer which predictions drive the window; it keeps the read model's protocol
(``name``, ``handlers``, ``position``, ``snapshot``/``restore``) so it can also be
folded on its own.
"""

from __future__ import annotations

import json
from typing import Any

from domain.model_events import PresetDeleted, PresetSaved, RunArchived, RunChosen, RunUnarchived
from domain.projections.recorded import Recorded


class RunChoices:
    name = "run_choices"

    def __init__(self) -> None:
        self.position = 0
        self.chosen: str | None = None  # the run of the latest RunChosen (None: the default)
        self.chosen_position = 0  # where it was chosen: a run started later takes over
        self.archived: set[str] = set()
        self.archived_position: dict[str, int] = {}
        self.presets: dict[str, dict[str, Any]] = {}  # name -> config, in order of saving
        self.handlers = {
            RunChosen: self._on_chosen,
            RunArchived: self._on_archived,
            RunUnarchived: self._on_unarchived,
            PresetSaved: self._on_preset_saved,
            PresetDeleted: self._on_preset_deleted,
        }

    # -- folding ----------------------------------------------------------------------
    def _on_chosen(self, e: Recorded) -> None:
        self.chosen = str(e.data["run_id"]) or None
        self.chosen_position = e.position

    def _on_archived(self, e: Recorded) -> None:
        run_id = str(e.data["run_id"])
        self.archived.add(run_id)
        self.archived_position[run_id] = e.position

    def _on_unarchived(self, e: Recorded) -> None:
        run_id = str(e.data["run_id"])
        self.archived.discard(run_id)
        self.archived_position.pop(run_id, None)

    def _on_preset_saved(self, e: Recorded) -> None:
        name = str(e.data["name"])
        self.presets.pop(name, None)  # re-inserted: the newest save is listed last
        self.presets[name] = dict(e.data["config"])

    def _on_preset_deleted(self, e: Recorded) -> None:
        self.presets.pop(str(e.data["name"]), None)

    # -- snapshots ---------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "chosen": self.chosen,
            "chosen_position": self.chosen_position,
            "archived": {k: self.archived_position[k] for k in sorted(self.archived)},
            "presets": [[name, config] for name, config in self.presets.items()],
        }

    def load(self, data: dict[str, Any]) -> None:
        """Take the state ``as_dict`` gave (in place: the handlers stay bound to self)."""
        self.position = int(data.get("position", 0))
        self.chosen = data.get("chosen")
        self.chosen_position = int(data.get("chosen_position", 0))
        self.archived_position = {str(k): int(v) for k, v in data.get("archived", {}).items()}
        self.archived = set(self.archived_position)
        self.presets = {str(name): dict(config) for name, config in data.get("presets", [])}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunChoices:
        self = cls()
        self.load(data)
        return self

    def snapshot(self) -> bytes:
        return json.dumps(self.as_dict()).encode()

    @classmethod
    def restore(cls, payload: bytes) -> RunChoices:
        return cls.from_dict(json.loads(payload))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunChoices) and self.as_dict() == other.as_dict()
