"""QualityState: the suggestion queue and the open label-issue flags.

Folds the three events of ``domain.quality_events`` only. What the person labeled
since is read from the label set at query time (``queue(labels)``,
``open_flags(labels)``) instead of by handling label events here: the replay of a big
log folds runs of ``LabelAssigned`` in bulk only while no read model beyond the label
set and the undo history handles them (``ProjectProjections._label_bulk``), and that
bulk path is what makes a million-event replay take a second. The answers are the
same: a suggestion only ever names an unlabeled sample, so "labeled since it was
suggested" is "labeled now" (one labeled and unlabeled again is back in the queue,
as it should be); a flag names the label the sample had, so "relabeled since" is "its
label is not that one now".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from domain.projections.recorded import Recorded


@dataclass(frozen=True)
class Suggested:
    """One suggested sample, with the reason it was picked."""

    sample: int
    score: float
    reason: str


@dataclass(frozen=True)
class SuggestionBatch:
    """The latest ``SuggestionsMade``, as recorded at ``position``."""

    strategy: str
    run_id: str | None
    epoch: int | None
    position: int
    items: tuple[Suggested, ...]


@dataclass(frozen=True)
class Flag:
    """A label found likely wrong: ``label`` the sample had, ``suggested`` the class
    found more plausible, ``score`` the label's quality (lower: more likely wrong)."""

    sample: int
    label: int
    suggested: int
    score: float
    run_id: str | None
    method: str
    position: int


class QualityState:
    name = "quality"

    def __init__(self) -> None:
        self.position = 0
        self.suggestions: SuggestionBatch | None = None
        self.flags: tuple[Flag, ...] = ()  # of the latest LabelIssuesFlagged, most likely first
        self.flagged_runs: set[str] = set()  # runs whose flags were computed
        self.checks = 0  # LabelIssuesFlagged events seen (also those of no run)
        self.dismissed: set[tuple[int, int]] = set()  # (sample, label) kept by a person
        self.handlers = {
            "SuggestionsMade": self._on_suggestions,
            "LabelIssuesFlagged": self._on_flags,
            "LabelIssueDismissed": self._on_dismissed,
        }

    # -- queries ----------------------------------------------------------------------
    def queue(self, labels: npt.ArrayLike) -> tuple[Suggested, ...]:
        """The latest suggestions still unlabeled, best first."""
        if self.suggestions is None:
            return ()
        current = np.asarray(labels)
        return tuple(
            s for s in self.suggestions.items if 0 <= s.sample < current.size and current[s.sample] < 0
        )

    def open_flags(self, labels: npt.ArrayLike) -> tuple[Flag, ...]:
        """The latest flags a person has neither dismissed nor fixed by relabeling,
        most likely wrong first."""
        current = np.asarray(labels)
        return tuple(
            f
            for f in self.flags
            if (f.sample, f.label) not in self.dismissed
            and 0 <= f.sample < current.size
            and int(current[f.sample]) == f.label
        )

    def suggestion_for(self, sample: int) -> Suggested | None:
        items = self.suggestions.items if self.suggestions is not None else ()
        return next((s for s in items if s.sample == sample), None)

    def flag_for(self, sample: int) -> Flag | None:
        return next((f for f in self.flags if f.sample == sample), None)

    def has_flags_for(self, run_id: str | None) -> bool:
        """Whether flags were computed after run ``run_id`` (None: after no run)."""
        return self.checks > 0 if run_id is None else run_id in self.flagged_runs

    # -- folding ----------------------------------------------------------------------
    def _on_suggestions(self, e: Recorded) -> None:
        d = e.data
        items = tuple(
            Suggested(int(s), float(score), str(reason))
            for s, score, reason in zip(d["samples"], d["scores"], d["reasons"])
        )
        self.suggestions = SuggestionBatch(
            str(d["strategy"]), d.get("run_id"), d.get("epoch"), e.position, items
        )

    def _on_flags(self, e: Recorded) -> None:
        d = e.data
        run_id, method = d.get("run_id"), str(d["method"])
        self.flags = tuple(
            Flag(int(s), int(label), int(other), float(score), run_id, method, e.position)
            for s, label, other, score in zip(d["samples"], d["labels"], d["suggested"], d["scores"])
        )
        self.checks += 1
        if run_id is not None:
            self.flagged_runs.add(run_id)

    def _on_dismissed(self, e: Recorded) -> None:
        self.dismissed.add((int(e.data["sample"]), int(e.data["label"])))

    # -- snapshots ---------------------------------------------------------------------
    def snapshot(self) -> bytes:
        batch = self.suggestions
        return json.dumps(
            {
                "position": self.position,
                "suggestions": None
                if batch is None
                else {
                    **{k: v for k, v in asdict(batch).items() if k != "items"},
                    "items": [asdict(s) for s in batch.items],
                },
                "flags": [asdict(f) for f in self.flags],
                "flagged_runs": sorted(self.flagged_runs),
                "checks": self.checks,
                "dismissed": sorted(self.dismissed),
            }
        ).encode()

    @classmethod
    def restore(cls, payload: bytes) -> QualityState:
        data: dict[str, Any] = json.loads(payload)
        self = cls()
        self.position = data["position"]
        batch = data["suggestions"]
        if batch is not None:
            self.suggestions = SuggestionBatch(
                batch["strategy"],
                batch["run_id"],
                batch["epoch"],
                batch["position"],
                tuple(Suggested(**s) for s in batch["items"]),
            )
        self.flags = tuple(Flag(**f) for f in data["flags"])
        self.flagged_runs = set(data["flagged_runs"])
        self.checks = data["checks"]
        self.dismissed = {(int(s), int(label)) for s, label in data["dismissed"]}
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QualityState) and self.snapshot() == other.snapshot()
