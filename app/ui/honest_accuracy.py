"""The accuracy the training panel shows as its headline, epoch by epoch: measured only
on labels the model did not train on, with its 95 % interval (no widget here).

An epoch's estimate is its held-out accuracy (``heldout_correct`` of ``heldout_n``
labels kept out of training, in the epoch's metrics) when it measured enough of them;
otherwise the run's prospective accuracy as it stood when the epoch was recorded
(labels people gave while the run's earlier predictions were in force,
``app.quality.accuracy``). Below ``domain.accuracy.MIN_SAMPLES`` compared labels an
estimate says "too few labels to estimate" instead of a number.

The prospective counts need a fold over the log; it is done only when an epoch lacks
a usable held-out measurement, and caught up from where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.project.errors import ProjectError
from app.quality.accuracy import Counts, ProspectiveAccuracy
from app.ui.widgets import percent
from domain.accuracy import MIN_SAMPLES, AccuracyEstimate
from domain.errors import DomainError
from domain.training_events import EpochCompleted
from eventstore import StoreError

HELD_OUT = "held-out"


def held_out(metrics: Mapping[str, Any]) -> AccuracyEstimate | None:
    """The epoch's held-out estimate, or None when it measured none."""
    n, correct = metrics.get("heldout_n"), metrics.get("heldout_correct")
    if n is None or int(n) <= 0:
        return None
    if correct is None:  # only the rate was kept: the counts follow from it
        rate = metrics.get("heldout_accuracy")
        if rate is None:
            return None
        correct = round(float(rate) * int(n))
    n, correct = int(n), int(correct)
    if not 0 <= correct <= n:
        return None
    return AccuracyEstimate.from_counts(correct, n, HELD_OUT)


class HonestAccuracy:
    """Estimates per (run, epoch) for one project; ``project`` is None for none at all."""

    def __init__(self, project) -> None:
        self._project = project
        self._prospective = ProspectiveAccuracy(project.get_blob) if project is not None else None
        self._at: dict[tuple[str, int], Counts] = {}  # the run's counts when the epoch was recorded
        self._broken = False  # the log could not be read on: keep what was folded

    def estimate(self, run_id: str, epoch: int, metrics: Mapping[str, Any]) -> AccuracyEstimate | None:
        """The headline estimate of ``run_id`` at ``epoch`` (None: nothing compared yet)."""
        found = held_out(metrics)
        if found is not None and found.n >= MIN_SAMPLES:
            return found
        counts = self._prospective_at(run_id, epoch)
        if counts is not None and counts.n >= MIN_SAMPLES:
            return counts.estimate()
        if found is not None:
            return found  # too few held out, and too few compared otherwise
        return counts.estimate() if counts is not None and counts.n else None

    def series(self, run) -> list[AccuracyEstimate | None]:
        """One estimate per recorded epoch of ``run`` (a ``TrainingRun``)."""
        return [self.estimate(run.run_id, e, m) for e, m in zip(run.epochs, run.metrics)]

    def _prospective_at(self, run_id: str, epoch: int) -> Counts | None:
        if (run_id, epoch) not in self._at:
            self._catch_up()
        return self._at.get((run_id, epoch))

    def _catch_up(self) -> None:
        folded = self._prospective
        if folded is None or self._broken:
            return
        try:
            for e in self._project.events(after=folded.position):
                folded.apply(e)
                if e.type == EpochCompleted.type_name:
                    run_id, epoch = str(e.data["run_id"]), int(e.data["epoch"])
                    counts = folded.runs.get(run_id, Counts())
                    self._at[(run_id, epoch)] = Counts(counts.correct, counts.n)
        except (ProjectError, StoreError, DomainError, KeyError, TypeError, ValueError):
            # A damaged event: the held-out figures still show; verify names the damage.
            self._broken = True


def describe(estimate: AccuracyEstimate | None) -> str:
    """The estimate in the words of the status bar and the log."""
    if estimate is None:
        return f"accuracy: too few labels to estimate (none held out or compared yet, {MIN_SAMPLES} needed)"
    if estimate.too_few:
        return f"accuracy: too few labels to estimate ({estimate.n} {estimate.method}, {MIN_SAMPLES} needed)"
    return (
        f"accuracy {_pct(estimate.value)} (95% interval {_pct(estimate.low)}–{_pct(estimate.high)}, "
        f"n = {estimate.n} {estimate.method})"
    )


def _pct(fraction: float | None) -> str:
    return "–" if fraction is None else percent(fraction)
