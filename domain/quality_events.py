"""Events of active learning and label quality: what the tool suggested labeling,
which labels it found likely wrong, and what the person decided about a flag.

Recorded by the application (``app/quality``) in the ``quality`` stream, never by a
decider: a suggestion or a flag is a fact about what a strategy or a model said, not
a change of the labels. Relabeling a flagged sample is an ordinary label change;
keeping its label is ``LabelIssueDismissed``. Scores are plain floats, so the history
explains why each sample was labeled and a benchmark can replay a session from its log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from domain.events import Event, class_name

QUALITY_STREAM = "quality"
_LISTED = 5  # samples named in a summary line before "…"


@dataclass(frozen=True)
class SuggestionsMade(Event):
    """Samples a query strategy picked for labeling, best first.

    ``strategy`` is the one used (``auto`` resolved), ``requested`` what was asked for;
    ``run_id`` and ``epoch`` name the predictions it used (None before any model);
    ``scores`` and ``reasons`` are ``domain.suggestions.Suggestions``' own.
    """

    type_name: ClassVar[str] = "SuggestionsMade"
    strategy: str
    samples: tuple[int, ...]
    scores: tuple[float, ...]
    reasons: tuple[str, ...]
    run_id: str | None = None
    epoch: int | None = None
    requested: str = "auto"

    def summary(self, names: Sequence[str] = ()) -> str:
        source = f" from run {self.run_id} epoch {self.epoch}" if self.run_id is not None else ""
        return (
            f"{len(self.samples)} suggested to label ({self.strategy}{source}): "
            f"samples {_listed(self.samples)}"
        )


@dataclass(frozen=True)
class LabelIssuesFlagged(Event):
    """Labels found likely wrong, most likely first: ``labels[i]`` is the label sample
    ``samples[i]`` had, ``suggested[i]`` the class found more plausible, ``scores[i]``
    the label's quality (0..1, lower is more likely wrong). ``run_id`` is the run after
    which the check ran (None when no run prompted it); ``method`` says how it judged."""

    type_name: ClassVar[str] = "LabelIssuesFlagged"
    method: str
    samples: tuple[int, ...]
    labels: tuple[int, ...]
    suggested: tuple[int, ...]
    scores: tuple[float, ...]
    run_id: str | None = None

    def summary(self, names: Sequence[str] = ()) -> str:
        after = f" after run {self.run_id}" if self.run_id is not None else ""
        shown = ", ".join(
            f"sample {s}: {class_name(label, names)} (maybe {class_name(other, names)})"
            for s, label, other in zip(self.samples[:_LISTED], self.labels, self.suggested)
        )
        more = ", …" if len(self.samples) > _LISTED else ""
        return (
            f"{len(self.samples)} label{'s' if len(self.samples) != 1 else ''} flagged as "
            f"likely wrong{after}" + (f": {shown}{more}" if shown else "")
        )


@dataclass(frozen=True)
class LabelIssueDismissed(Event):
    """The person looked at a flagged sample and kept its label ``label``; a later flag
    of the same sample with the same label stays dismissed."""

    type_name: ClassVar[str] = "LabelIssueDismissed"
    sample: int
    label: int

    def summary(self, names: Sequence[str] = ()) -> str:
        return f"sample {self.sample}: kept {class_name(self.label, names)} (flag dismissed)"


def _listed(samples: Sequence[int]) -> str:
    return ", ".join(str(s) for s in samples[:_LISTED]) + (", …" if len(samples) > _LISTED else "")


QUALITY_EVENTS: tuple[type[Event], ...] = (SuggestionsMade, LabelIssuesFlagged, LabelIssueDismissed)
