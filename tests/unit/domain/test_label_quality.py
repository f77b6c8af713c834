"""Label issues from out-of-sample probabilities, and annotator disagreement."""

from __future__ import annotations

import numpy as np
import pytest

from domain.label_quality import (
    Disagreement,
    LabelChange,
    annotator_disagreements,
    find_label_issues,
    out_of_sample_probabilities,
)


def separable(classes: int = 5, per_class: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points in well separated Gaussian blobs, one per class, and their classes."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 8, (classes, 10))
    truth = np.repeat(np.arange(classes), per_class)
    return (centres[truth] + rng.normal(0, 1, (truth.size, 10))).astype(np.float32), truth


def test_a_flipped_label_is_flagged_with_its_true_class() -> None:
    points, truth = separable()
    labels = np.full(truth.size, -1, np.int64)
    labeled = np.arange(0, truth.size, 4)  # a quarter labeled, the rest unlabeled
    labels[labeled] = truth[labeled]
    flipped = labeled[7]
    labels[flipped] = (truth[flipped] + 2) % 5
    issues = find_label_issues(labels, points, 5, seed=0)
    assert issues, "the flipped label was not flagged"
    assert issues[0].sample == flipped
    assert issues[0].label == labels[flipped]
    assert issues[0].suggested == truth[flipped]
    assert issues[0].score < 0.1 < 0.9 < issues[0].suggested_probability


def test_in_sample_probabilities_would_miss_it_but_ours_are_out_of_sample() -> None:
    points, truth = separable()
    labels = truth.copy()
    labels[11] = (truth[11] + 1) % 5
    probabilities = out_of_sample_probabilities(labels, points, 5, seed=0)
    # Its own (wrong) label never reaches it: the class of its neighbours does.
    assert probabilities.shape == (truth.size, 5)
    assert probabilities[11].argmax() == truth[11]
    assert probabilities[11, labels[11]] < 0.05
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_precision_and_recall_with_five_percent_random_flips() -> None:
    rng = np.random.default_rng(3)
    points, truth = separable(classes=8, per_class=150, seed=3)
    points = points + rng.normal(0, 1.5, points.shape).astype(np.float32)  # blobs touch
    labels = np.full(truth.size, -1, np.int64)
    labeled = rng.choice(truth.size, 400, replace=False)
    labels[labeled] = truth[labeled]
    flipped = rng.choice(labeled, 20, replace=False)
    labels[flipped] = (truth[flipped] + rng.integers(1, 8, flipped.size)) % 8
    flagged = {issue.sample for issue in find_label_issues(labels, points, 8, seed=0)}
    hits = len(flagged & set(flipped.tolist()))
    assert hits / max(len(flagged), 1) >= 0.8, f"precision {hits}/{len(flagged)}"
    assert hits / flipped.size >= 0.8, f"recall {hits}/{flipped.size}"


def test_clean_labels_raise_few_flags_and_results_are_reproducible() -> None:
    points, truth = separable()
    labels = truth.copy()
    first = find_label_issues(labels, points, 5, seed=4)
    assert len(first) <= 2
    assert first == find_label_issues(labels, points, 5, seed=4)


def test_too_few_labels_judge_nothing() -> None:
    points, truth = separable()
    labels = np.full(truth.size, -1, np.int64)
    labels[:10] = truth[:10]
    assert find_label_issues(labels, points, 5) == ()
    labels[:100] = 0  # one class only
    assert find_label_issues(labels, points, 5) == ()


def test_an_unlabeled_class_is_no_obstacle() -> None:
    points, truth = separable()
    labels = np.where(truth < 4, truth, -1)  # nobody labeled class 4 yet
    labels[3] = (truth[3] + 1) % 4
    issues = find_label_issues(labels, points, 5, seed=0)
    assert [issue.sample for issue in issues][:1] == [3]


@pytest.mark.parametrize(
    ("labels", "features", "message"),
    [
        (np.zeros(5, np.int64), np.zeros((4, 2)), "one row per sample"),
        (np.array([0, 1, 7]), np.zeros((3, 2)), "label 7 of sample 2 is not a class 0..4"),
        (np.array([0.5, 1.0]), np.zeros((2, 2)), "labels must be one integer per sample"),
    ],
)
def test_bad_inputs_say_what_is_wrong(labels: np.ndarray, features: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        find_label_issues(labels, features, 5)


def test_disagreements_list_both_labels_and_who_gave_them() -> None:
    changes = [
        LabelChange(1, "ana", 3),
        LabelChange(1, "bo", 5),  # disagree
        LabelChange(2, "ana", 4),
        LabelChange(2, "bo", 4),  # agree
        LabelChange(3, "ana", 1),
        LabelChange(3, "bo", 7),
        LabelChange(3, "bo", 1),  # bo came round
        LabelChange(4, "cy", 2),
        LabelChange(4, "ana", 9),
        LabelChange(4, "ana", None),  # ana withdrew hers
        LabelChange(5, "cy", 0),
        LabelChange(5, "bo", 0),
        LabelChange(5, "ana", 6),
    ]
    assert annotator_disagreements(changes) == (
        Disagreement(1, (("ana", 3), ("bo", 5))),
        Disagreement(5, (("ana", 6), ("bo", 0), ("cy", 0))),
    )
    assert annotator_disagreements([]) == ()
