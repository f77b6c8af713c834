"""Which labels are likely wrong: confident learning on out-of-sample probabilities,
and where annotators disagree.

This module owns the judgement, not its record: `find_label_issues` is a pure,
seeded function of the label set and the samples' features; the application records
the flags (`LabelIssuesFlagged`) and the person's decisions on them.

Out of sample, or it sees nothing
---------------------------------
A model that trained on a label agrees with it: its probability for that sample
says nothing about whether the label is right. The probabilities handed to cleanlab
(Northcutt et al. 2021; `cleanlab.rank.get_label_quality_scores`,
`cleanlab.count.num_label_issues`) are therefore cross-validated: the labeled samples
are split into 10 stratified folds and each fold is predicted from the labels of the
other nine only.

The predictor is label spreading (Zhou et al. 2004) over a 10-nearest-neighbour graph
of all samples, labeled and unlabeled, not a classifier head on the labeled ones
alone: the unlabeled samples carry a held-out label to its class along the data's
own clusters. On MNIST 10k with 500 labels (50 principal components of the pixels,
5-10 label sets) its out-of-sample accuracy was 93 % against 84 % for logistic
regression (C = 0.1; 79 % with C = 1); with 5 % of the labels flipped at random and
cleanlab's ``filter_by='both'``, flags had a precision of 0.83 and a recall of 0.80 on
spreading's probabilities against 0.55 and 0.78 on logistic regression's.

The cut is the n labels of lowest self-confidence (the out-of-sample probability of
the given label), n the midpoint of cleanlab's two estimates of the number of label
errors from the confident joint (``num_label_issues`` with
``estimation_method='off_diagonal'`` and ``'off_diagonal_calibrated'``). Over 10 label
sets of 500 (benchmarks/active_learning.py) the plain estimate counted ~21 errors
where there were 25 and the calibrated one ~30; their midpoint had a precision of
0.86 and a recall of 0.88 with 5 % flips (0.92 and 0.87 with 10 %), where the plain
count had 0.92 / 0.78, the calibrated 0.79 / 0.94, ``find_label_issues``' default
``prune_by_noise_rate`` 0.79 / 0.77 and ``filter_by='both'`` 0.84 / 0.71 (those two
on similar label sets). The midpoint was chosen on these label sets; a fresh
benchmark set would keep it honest.

Graph settings from the same measurements: alpha 0.9 with 20 iterations (0.99 with
30 or 60 was within noise at 10 % flips and lower at 5 %), k = 10 (k = 20 lost 3
points of accuracy), 10 folds (5 lost 3 points of recall), 50 dimensions (30, and
cosine distances, were within noise); averaging three fold splits changed nothing
beyond noise. All folds spread together, as the columns of one matrix: 0.6-0.9 s in
all for 500 labels among 10,000 samples on the shared machine, most of it the graph.

Features: what the caller has that no model fitted to the labels under judgement —
the principal components of the pixels (`domain.clustering.pixel_features`) or an
unsupervised embedding. Not a run's class probabilities: a 20-epoch run on 500
labels with 25 flipped agreed with 13 of the 25 wrong labels (42 of 50 at 10 %), and
its probabilities as features flagged none of the 25 (1 of 50); appended to the
pixel components they cut recall on that label set from 0.96 to 0.56 (0.90 to 0.34
at 10 %). Cross-validating the spreading cannot undo a leak already inside the
features.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FOLDS = 10
NEIGHBOURS = 10
ALPHA = 0.9
ITERATIONS = 20
# Below this many labels, or with one class, there is nothing to compare a label to.
MIN_LABELS = 20
# The graph holds every labeled sample and at most this many in all: a 20,000-node
# graph takes ~3 s on our machine, and more unlabeled samples add little to 500 labels.
GRAPH_ROWS = 20_000


@dataclass(frozen=True)
class LabelIssue:
    """A label the out-of-sample model finds implausible.

    score: cleanlab's label quality (self-confidence), the out-of-sample probability
        of the given label, 0..1; lower is more likely wrong.
    suggested: the class the out-of-sample model finds most probable, with
        `suggested_probability`.
    """

    sample: int
    label: int
    suggested: int
    score: float
    suggested_probability: float


@dataclass(frozen=True)
class LabelChange:
    """One annotator's act on one sample, as the log has it; label None = removed."""

    sample: int
    annotator: str
    label: int | None


@dataclass(frozen=True)
class Disagreement:
    """A sample whose annotators' current labels differ: (annotator, label), by name."""

    sample: int
    labels: tuple[tuple[str, int], ...]


def find_label_issues(
    labels: npt.ArrayLike, features: npt.ArrayLike, num_classes: int, *, seed: int = 0, folds: int = FOLDS
) -> tuple[LabelIssue, ...]:
    """Labeled samples whose label is likely wrong, most likely first.

    labels: (N,) ints, -1 for unlabeled. features: (N, F), for every sample (the
    unlabeled ones carry labels along the graph). Returns () when fewer than
    MIN_LABELS samples or only one class are labeled.
    """
    # Imported here: cleanlab (with pandas and scikit-learn) takes ~1 s to import.
    from cleanlab.count import num_label_issues
    from cleanlab.rank import get_label_quality_scores

    label_array, points = _checked(labels, features, num_classes)
    labeled = np.flatnonzero(label_array >= 0)
    present = np.unique(label_array[labeled])
    if labeled.size < MIN_LABELS or present.size < 2:
        return ()
    probabilities = out_of_sample_probabilities(label_array, points, num_classes, seed=seed, folds=folds)
    # cleanlab wants every class it sees to be labeled somewhere: judge among the
    # classes that are (a class nobody labeled cannot be the given label).
    dense = np.searchsorted(present, label_array[labeled])
    restricted = probabilities[:, present] + 1e-12
    restricted /= restricted.sum(axis=1, keepdims=True)
    quality = get_label_quality_scores(dense, restricted, method="self_confidence")
    # cleanlab's two estimates of how many labels are wrong bracket the truth on MNIST
    # (~21 and ~30 of 25): flag as many as their midpoint (module docstring).
    count = (
        num_label_issues(dense, restricted, estimation_method="off_diagonal")
        + num_label_issues(dense, restricted, estimation_method="off_diagonal_calibrated")
    ) // 2
    suggested = restricted.argmax(axis=1)
    ranked = np.argsort(quality, kind="stable")[:count]
    flagged = ranked[suggested[ranked] != dense[ranked]]  # an issue names another class
    return tuple(
        LabelIssue(
            sample=int(labeled[i]),
            label=int(label_array[labeled[i]]),
            suggested=int(present[suggested[i]]),
            score=float(quality[i]),
            suggested_probability=float(restricted[i, suggested[i]]),
        )
        for i in flagged
    )


def out_of_sample_probabilities(
    labels: npt.ArrayLike, features: npt.ArrayLike, num_classes: int, *, seed: int = 0, folds: int = FOLDS
) -> FloatArray:
    """(L, C) class probabilities of the L labeled samples (in sample order), each
    predicted by label spreading from the other folds' labels only."""
    label_array, points = _checked(labels, features, num_classes)
    rng = np.random.default_rng(seed)
    labeled = np.flatnonzero(label_array >= 0)
    if labeled.size == 0:
        return np.zeros((0, num_classes))
    unlabeled = np.flatnonzero(label_array < 0)
    room = max(0, GRAPH_ROWS - labeled.size)
    if unlabeled.size > room:
        unlabeled = np.sort(rng.choice(unlabeled, room, replace=False))
    nodes = np.concatenate([labeled, unlabeled])  # labeled first: node i < L is labeled[i]
    given = label_array[labeled]
    fold = _stratified_folds(given, min(folds, labeled.size), rng)
    fold_count = int(fold.max()) + 1
    # One seed matrix for all folds side by side: fold f's columns hold the labels
    # outside fold f, so one propagation answers every fold.
    seeds = np.zeros((nodes.size, fold_count * num_classes))
    rows = np.arange(labeled.size)
    for f in range(fold_count):
        keep = fold != f
        seeds[rows[keep], f * num_classes + given[keep]] = 1.0
    spread = _label_spreading(points[nodes], seeds)
    out = spread[rows[:, None], fold[:, None] * num_classes + np.arange(num_classes)[None, :]]
    totals = out.sum(axis=1, keepdims=True)
    # A sample no label reaches (a component without labels) knows nothing: uniform.
    return np.where(totals > 0, out / np.where(totals > 0, totals, 1.0), 1.0 / num_classes)


def annotator_disagreements(changes: Iterable[LabelChange]) -> tuple[Disagreement, ...]:
    """Samples whose current labels from two or more annotators differ, by sample.

    changes: every label act in log order; an annotator's latest act on a sample is
    their current label (None: they removed it, so it no longer counts).
    """
    current: dict[int, dict[str, int]] = {}
    for change in changes:
        by_annotator = current.setdefault(change.sample, {})
        if change.label is None:
            by_annotator.pop(change.annotator, None)
        else:
            by_annotator[change.annotator] = change.label
    return tuple(
        Disagreement(sample, tuple(sorted(by_annotator.items())))
        for sample, by_annotator in sorted(current.items())
        if len(set(by_annotator.values())) > 1
    )


def _label_spreading(points: npt.NDArray[np.float32], seeds: FloatArray) -> FloatArray:
    """F <- alpha S F + (1 - alpha) Y on the symmetric normalised kNN graph S."""
    from sklearn.neighbors import kneighbors_graph

    k = min(NEIGHBOURS, points.shape[0] - 1)
    if k < 1:
        return seeds.copy()
    graph: Any = kneighbors_graph(points, k, mode="distance", n_jobs=1)
    # Gaussian weights with the median k-th neighbour distance as the width.
    width = float(np.median(graph.max(axis=1).toarray())) or 1.0
    graph.data = np.exp(-((graph.data / width) ** 2))
    graph = graph + graph.T
    degree = np.asarray(graph.sum(axis=1)).ravel()
    inverse_root = 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0))
    normalised: Any = graph.multiply(inverse_root[:, None]).multiply(inverse_root[None, :])
    normalised = normalised.tocsr()
    spread = seeds.copy()
    for _ in range(ITERATIONS):
        spread = ALPHA * (normalised @ spread) + (1 - ALPHA) * seeds
    return np.asarray(spread)


def _stratified_folds(classes: IntArray, folds: int, rng: np.random.Generator) -> IntArray:
    """Fold of each labeled sample: every class dealt round-robin over the folds,
    from a random fold onward, so small classes do not all land in fold 0."""
    fold = np.empty(classes.size, np.int64)
    for c in np.unique(classes):
        members = rng.permutation(np.flatnonzero(classes == c))
        fold[members] = (np.arange(members.size) + rng.integers(folds)) % folds
    return fold


def _checked(
    labels: npt.ArrayLike, features: npt.ArrayLike, num_classes: int
) -> tuple[IntArray, npt.NDArray[np.float32]]:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes must be 2 or more, got {num_classes!r}")
    label_array = np.asarray(labels)
    if label_array.ndim != 1 or (label_array.size and not np.issubdtype(label_array.dtype, np.integer)):
        raise ValueError(
            f"labels must be one integer per sample, got shape {label_array.shape} of {label_array.dtype}"
        )
    bad = np.flatnonzero((label_array < -1) | (label_array >= num_classes))
    if bad.size:
        raise ValueError(
            f"label {int(label_array[bad[0]])} of sample {int(bad[0]):,} is not "
            f"a class 0..{num_classes - 1} nor -1 (unlabeled)"
        )
    points = np.asarray(features)
    if points.ndim < 2 or points.shape[0] != label_array.size:
        raise ValueError(
            f"features must have one row per sample ({label_array.size:,}), got shape {points.shape}"
        )
    points = points.reshape(points.shape[0], -1).astype(np.float32)
    if not np.all(np.isfinite(points)):
        raise ValueError("features contain NaN or infinite values")
    return label_array.astype(np.int64), points
