"""Active learning and label quality for an open project: suggestions to label, flags
of likely wrong labels, a person's decision on a flag, annotators who disagree.

Each request has three steps, so the window can run the middle one off the GUI thread
(a ``Project`` is used from one thread):

1. ``*_inputs(project)`` copies what the computation needs (labels, pixels, the latest
   meaningful predictions and which run and epoch made them) — on the project's thread;
2. ``compute_*`` runs the pure domain function (``domain.suggestions.suggest``,
   ``domain.label_quality.find_label_issues``) on those inputs — on any thread;
3. ``record(project, event)`` appends the result to the ``quality`` stream — on the
   project's thread again.

``suggest`` and ``flag`` do all three in a row, for the command line.

Flags judge the principal components of the pixels, never the run's probabilities:
a run that trained on a wrong label agrees with it (domain/label_quality.py measured a
20-epoch run agreeing with 13 of 25 flipped labels and flagging none of them), so the
run only says *when* labels are checked again, not *how*.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.project.errors import ProjectError
from app.project.live import Project
from app.project.view import ProjectView
from domain.events import (
    Event,
    LabelAssigned,
    LabelChangeRedone,
    LabelChangeUndone,
    LabelConfirmed,
    LabelRemoved,
    LabelsAssigned,
    class_name,
)
from domain.label_quality import Disagreement, LabelChange, LabelIssue
from domain.projections.quality import Flag, QualityState, Suggested
from domain.quality_events import (
    QUALITY_STREAM,
    LabelIssueDismissed,
    LabelIssuesFlagged,
    SuggestionsMade,
)
from domain.suggestions import STRATEGIES, Suggestions
from eventstore import RecordedEvent

DEFAULT_COUNT = 10
MAX_COUNT = 1_000
FLAG_METHOD = (
    "confident learning (cleanlab self-confidence, cut at the midpoint of its two "
    "noise estimates) on 10-fold label spreading over 50 principal components "
    "of the pixels"
)


@dataclass(frozen=True)
class SuggestionInputs:
    """What a suggestion is computed from, taken on the project's thread (the images as
    the lazy dataset, read where the suggestion is computed, as for ``FlagInputs``)."""

    labels: npt.NDArray[np.int64]
    pixels: npt.ArrayLike
    probabilities: npt.NDArray[np.float32] | None  # the latest meaningful predictions
    run_id: str | None
    epoch: int | None
    seed: int


@dataclass(frozen=True)
class FlagInputs:
    """What a label check is computed from, taken on the project's thread: the labels
    copied, the images as the project's lazy dataset, read where the check runs (in the
    window, a background thread: reading 100,000 colour images took seconds)."""

    labels: npt.NDArray[np.int64]
    pixels: npt.ArrayLike
    num_classes: int
    run_id: str | None
    seed: int


# --- reading ----------------------------------------------------------------------------


def quality_of(project: ProjectView) -> QualityState:
    """The project's suggestion queue and flags (an empty state when the read model is
    missing, as in a bare ``ProjectProjections`` some tools build)."""
    part = project.state.extras.get(QualityState.name)
    return part if isinstance(part, QualityState) else QualityState()


def queue(project: ProjectView) -> tuple[Suggested, ...]:
    return quality_of(project).queue(project.labels.labels)


def open_flags(project: ProjectView) -> tuple[Flag, ...]:
    return quality_of(project).open_flags(project.labels.labels)


def latest_run_id(project: ProjectView) -> str | None:
    training = project.state.extras.get("training")
    latest = getattr(training, "latest", None)
    return None if latest is None else str(latest.run_id)


def flags_due(project: ProjectView) -> bool:
    """Whether the labels were not yet checked after the latest run (or ever, before one)."""
    return not quality_of(project).has_flags_for(latest_run_id(project))


# --- suggestions --------------------------------------------------------------------------


def suggestion_inputs(project: ProjectView, shown: npt.NDArray[np.float32] | None = None) -> SuggestionInputs:
    """Labels, pixels and the latest predictions worth trusting: those of a model that
    had seen labels (``PredictionsComputed.meaningful``) and have one column per class.

    ``shown``: the predictions a window already holds (it reads the blob once per
    ``PredictionsComputed``); they are used whatever ``meaningful`` says, as the
    "most uncertain" key always did.
    """
    training = project.state.extras.get("training")
    ref = getattr(training, "latest_predictions", None)
    expected = (project.info.sample_count, len(project.info.class_names))
    probabilities = None
    run_id = epoch = None
    if shown is not None:
        probabilities = shown if shown.shape == expected else None
    elif ref is not None and ref.meaningful:
        predicted = project.predictions()
        probabilities = predicted if predicted is not None and predicted.shape == expected else None
    if probabilities is not None and ref is not None:
        run_id, epoch = str(ref.run_id), int(ref.epoch)
    return SuggestionInputs(
        np.array(project.labels.labels, dtype=np.int64),
        project.images(),
        probabilities,
        run_id,
        epoch,
        seed=project.position,
    )


def compute_suggestions(
    inputs: SuggestionInputs, strategy: str = "auto", count: int = DEFAULT_COUNT
) -> Suggestions:
    """``domain.suggestions.suggest`` on ``inputs``; a ``ProjectError`` says what is wrong."""
    from domain.suggestions import suggest

    check_request(strategy, count)
    if strategy in ("uncertain", "diverse") and inputs.probabilities is None:
        raise ProjectError(
            f"{strategy} suggestions need predictions of a model trained on labels: "
            "train first, or use --strategy typical (or auto)"
        )
    try:
        return suggest(
            strategy,
            count,
            labels=inputs.labels,
            pixels=inputs.pixels,
            probabilities=inputs.probabilities,
            seed=inputs.seed,
        )
    except ValueError as exc:
        raise ProjectError(str(exc)) from None


def suggestions_made(suggestions: Suggestions, inputs: SuggestionInputs, requested: str) -> SuggestionsMade:
    uses_model = suggestions.strategy in ("uncertain", "diverse")
    return SuggestionsMade(
        strategy=suggestions.strategy,
        samples=suggestions.samples,
        scores=tuple(round(float(s), 6) for s in suggestions.scores),
        reasons=suggestions.reasons,
        run_id=inputs.run_id if uses_model else None,
        epoch=inputs.epoch if uses_model else None,
        requested=requested,
    )


def check_request(strategy: str, count: int) -> None:
    if strategy not in STRATEGIES:
        raise ProjectError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ProjectError(
            f"the count of suggestions must be a whole number from 1 to {MAX_COUNT:,}, not {count!r}"
        )


def suggest(project: Project, strategy: str = "auto", count: int = DEFAULT_COUNT) -> SuggestionsMade:
    """Compute suggestions and record them (``SuggestionsMade``); returns the event."""
    check_request(strategy, count)
    inputs = suggestion_inputs(project)
    event = suggestions_made(compute_suggestions(inputs, strategy, count), inputs, strategy)
    record(project, event)
    return event


# --- flags --------------------------------------------------------------------------------


def flag_inputs(project: ProjectView) -> FlagInputs:
    return FlagInputs(
        np.array(project.labels.labels, dtype=np.int64),
        project.images(),
        len(project.info.class_names),
        latest_run_id(project),
        seed=0,
    )


def compute_flags(inputs: FlagInputs) -> tuple[LabelIssue, ...]:
    """Likely wrong labels, most likely first (scikit-learn and cleanlab load here)."""
    from domain.clustering import pixel_features
    from domain.label_quality import MIN_LABELS, find_label_issues

    labeled = inputs.labels[inputs.labels >= 0]
    if inputs.num_classes < 2 or labeled.size < MIN_LABELS or np.unique(labeled).size < 2:
        return ()  # nothing to compare a label to: no need to load scikit-learn and cleanlab
    features = pixel_features(inputs.pixels, seed=inputs.seed)
    return find_label_issues(inputs.labels, features, inputs.num_classes, seed=inputs.seed)


def issues_flagged(issues: Sequence[LabelIssue], inputs: FlagInputs) -> LabelIssuesFlagged:
    return LabelIssuesFlagged(
        method=FLAG_METHOD,
        samples=tuple(i.sample for i in issues),
        labels=tuple(i.label for i in issues),
        suggested=tuple(i.suggested for i in issues),
        scores=tuple(round(i.score, 6) for i in issues),
        run_id=inputs.run_id,
    )


def flag(project: Project) -> LabelIssuesFlagged:
    """Check the labels and record the flags (``LabelIssuesFlagged``, possibly empty)."""
    inputs = flag_inputs(project)
    event = issues_flagged(compute_flags(inputs), inputs)
    record(project, event)
    return event


def dismissal(project: ProjectView, sample: int) -> LabelIssueDismissed:
    """The event that keeps ``sample``'s current label; refused when it is not flagged."""
    if not 0 <= sample < project.info.sample_count:
        raise ProjectError(
            f"sample {sample:,} is out of range: the project has {project.info.sample_count:,} samples"
        )
    flagged = next((f for f in open_flags(project) if f.sample == sample), None)
    if flagged is None:
        raise ProjectError(f"sample {sample:,} has no open flag: nothing to keep")
    return LabelIssueDismissed(sample=sample, label=flagged.label)


# --- annotators who disagree -----------------------------------------------------------------


_REVERSALS = {LabelChangeUndone.type_name, LabelChangeRedone.type_name}
_MANY = {LabelsAssigned.type_name, LabelConfirmed.type_name}


def label_acts(events: Iterable[RecordedEvent]) -> Iterator[LabelChange]:
    """Every label act in log order with who did it; an undo or redo is an act of whoever
    undid or redid it (after alice undoes her label, hers is what the undo restored)."""
    for e in events:
        who, d = str(e.metadata.get("annotator", "")), e.data
        if e.type == LabelAssigned.type_name:
            yield LabelChange(int(d["sample"]), who, int(d["label"]))
        elif e.type in _MANY:  # given to many, or confirmed (a standing label agreed with)
            yield from (LabelChange(int(s), who, int(d["label"])) for s in d["samples"])
        elif e.type == LabelRemoved.type_name:
            yield LabelChange(int(d["sample"]), who, None)
        elif e.type in _REVERSALS:
            for s, label in zip(d["samples"], d["labels"]):  # a damaged event may not pair up
                yield LabelChange(int(s), who, None if int(label) < 0 else int(label))


def disagreements(events: Iterable[RecordedEvent]) -> tuple[Disagreement, ...]:
    """Samples whose annotators' current labels differ (read the whole log: run it off
    the GUI thread on a big project)."""
    from domain.label_quality import annotator_disagreements

    return annotator_disagreements(label_acts(events))


def disagreement_text(d: Disagreement, names: Sequence[str]) -> str:
    return "annotators disagree: " + ", ".join(
        f"{who} says {class_name(label, names)}" for who, label in d.labels
    )


# --- recording ------------------------------------------------------------------------------


def record(project: Project, event: Event) -> int:
    """Append ``event`` to the quality stream; returns its position."""
    return project.record(QUALITY_STREAM, [event])
