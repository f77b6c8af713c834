"""Query strategies on small synthetic data: what each picks, and that it never
picks a labeled sample."""

from __future__ import annotations

import numpy as np
import pytest

from domain.clustering import kmeans, pixel_features
from domain.suggestions import Suggestions, suggest

CLUSTERS = 10
PER_CLUSTER = 60


def blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(600, 20) points in 10 well separated Gaussian blobs, and each point's blob."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (CLUSTERS, 20))
    blob = np.repeat(np.arange(CLUSTERS), PER_CLUSTER)
    return (centres[blob] + rng.normal(0, 1, (blob.size, 20))).astype(np.float32), blob


def unlabeled(n: int) -> np.ndarray:
    return np.full(n, -1, np.int64)


def probabilities_with_margins(margins: np.ndarray) -> np.ndarray:
    """Two-class-dominated rows whose top-two margin is exactly `margins`."""
    p = np.zeros((margins.size, 4), np.float32)
    p[:, 0] = (1 + margins) / 2
    p[:, 1] = (1 - margins) / 2
    return p


def test_typical_cold_start_covers_every_cluster() -> None:
    points, blob = blobs()
    result = suggest("typical", 10, labels=unlabeled(points.shape[0]), features=points, seed=0)
    assert result.strategy == "typical"
    assert sorted(blob[list(result.samples)]) == list(range(CLUSTERS))
    assert all("no label yet" in reason for reason in result.reasons)


def test_typical_picks_a_central_sample_of_its_cluster() -> None:
    points, blob = blobs()
    result = suggest("typical", 10, labels=unlabeled(points.shape[0]), features=points, seed=0)
    for sample in result.samples:
        members = points[blob == blob[sample]]
        distance = np.linalg.norm(members - members.mean(axis=0), axis=1)
        own = np.linalg.norm(points[sample] - members.mean(axis=0))
        assert own <= np.quantile(distance, 0.5)  # in the denser half of its blob


def test_typical_goes_first_to_clusters_without_labels() -> None:
    points, blob = blobs()
    labels = unlabeled(points.shape[0])
    for cluster in range(5):  # a label in each of blobs 0-4: 5 + 5 clusters, one per blob
        labels[np.flatnonzero(blob == cluster)[0]] = cluster
    result = suggest("typical", 5, labels=labels, features=points, seed=1)
    assert sorted(blob[list(result.samples)]) == [5, 6, 7, 8, 9]


def test_typical_from_pixels_without_features() -> None:
    points, blob = blobs()
    pixels = np.clip((points - points.min()) / np.ptp(points) * 255, 0, 255).astype(np.uint8)
    result = suggest("typical", 10, labels=unlabeled(pixels.shape[0]), pixels=pixels, seed=0)
    assert len(set(blob[list(result.samples)])) >= 9


def test_uncertain_picks_the_smallest_margins() -> None:
    margins = np.random.default_rng(0).uniform(0.05, 1, 200).astype(np.float32)
    smallest = np.argsort(margins)[:8]
    margins[smallest[0]] = 0.001  # the very closest call is labeled already
    labels = unlabeled(200)
    labels[smallest[0]] = 0
    result = suggest("uncertain", 7, labels=labels, probabilities=probabilities_with_margins(margins), seed=0)
    assert result.samples == tuple(int(i) for i in smallest[1:])
    assert result.scores == pytest.approx(tuple(margins[smallest[1:]]), abs=1e-6)
    assert result.reasons[0].startswith("margin ") and "between 0 and 1" in result.reasons[0]


def test_uncertain_by_entropy_picks_the_flattest_rows() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5) * 0.2, 100).astype(np.float32)
    p[[7, 42]] = 0.2  # uniform: the largest entropy there is
    result = suggest("uncertain", 2, labels=unlabeled(100), probabilities=p, uncertainty="entropy", seed=0)
    assert set(result.samples) == {7, 42}
    assert result.scores[0] == pytest.approx(np.log(5), abs=1e-5)


def test_diverse_spreads_uncertain_picks_over_clusters() -> None:
    points, blob = blobs()
    # Every sample is uncertain, blob 0 most of all: pure uncertainty would take
    # ten near-copies from blob 0.
    margins = np.where(blob == 0, 0.01, 0.2).astype(np.float32)
    margins += np.random.default_rng(1).uniform(0, 0.005, margins.size).astype(np.float32)
    probabilities = probabilities_with_margins(margins)
    uncertain = suggest(
        "uncertain", 10, labels=unlabeled(blob.size), features=points, probabilities=probabilities, seed=0
    )
    diverse = suggest(
        "diverse", 10, labels=unlabeled(blob.size), features=points, probabilities=probabilities, seed=0
    )
    assert set(blob[list(uncertain.samples)]) == {0}
    assert len(set(blob[list(diverse.samples)])) >= 8
    assert blob[diverse.samples[0]] == 0  # the most uncertain group comes first


def test_auto_is_typical_before_a_model_and_diverse_after() -> None:
    points, _ = blobs()
    labels = unlabeled(points.shape[0])
    assert suggest("auto", 3, labels=labels, features=points).strategy == "typical"
    probabilities = probabilities_with_margins(np.linspace(0, 1, points.shape[0]))
    labels[:20] = 0
    assert (
        suggest("auto", 3, labels=labels, features=points, probabilities=probabilities).strategy == "diverse"
    )


@pytest.mark.parametrize("strategy", ["typical", "uncertain", "diverse", "random", "auto"])
def test_same_seed_same_suggestions_and_never_a_labeled_sample(strategy: str) -> None:
    points, blob = blobs()
    labels = unlabeled(points.shape[0])
    labels[::3] = blob[::3]  # a third labeled, including the blobs' centres' neighbours
    probabilities = probabilities_with_margins(
        np.random.default_rng(2).uniform(0, 1, points.shape[0]).astype(np.float32)
    )
    runs = [
        suggest(strategy, 12, labels=labels, features=points, probabilities=probabilities, seed=5)
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert isinstance(runs[0], Suggestions)
    assert len(runs[0].samples) == len(set(runs[0].samples)) == 12
    assert len(runs[0].scores) == len(runs[0].reasons) == 12
    assert np.all(labels[list(runs[0].samples)] == -1)


def test_count_is_capped_by_the_unlabeled_samples() -> None:
    labels = np.zeros(50, np.int64)
    labels[[3, 9]] = -1
    points = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    assert set(suggest("typical", 10, labels=labels, features=points).samples) == {3, 9}
    assert suggest("random", 5, labels=np.zeros(50, np.int64)).samples == ()


@pytest.mark.parametrize(
    ("strategy", "count", "message"),
    [
        ("best", 10, "unknown strategy 'best'"),
        ("random", 0, "count must be a whole number of at least 1"),
        ("random", 2.5, "count must be"),
        ("uncertain", 3, "needs class probabilities from a trained run"),
    ],
)
def test_bad_requests_say_what_is_wrong(strategy: str, count: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        suggest(strategy, count, labels=unlabeled(20))


def test_inputs_that_do_not_fit_together_are_refused() -> None:
    with pytest.raises(ValueError, match="one row per sample"):
        suggest("typical", 1, labels=unlabeled(20), features=np.zeros((19, 3)))
    with pytest.raises(ValueError, match="needs the samples' pixels or features"):
        suggest("typical", 1, labels=unlabeled(20))


def test_kmeans_finds_separated_blobs() -> None:
    points, blob = blobs()
    _, assignment = kmeans(points, CLUSTERS, np.random.default_rng(0))
    # Every blob lands in one cluster (k-means++ can split one and merge two rarely;
    # this seed does not).
    assert all(np.unique(assignment[blob == b]).size == 1 for b in range(CLUSTERS))


def test_pixel_features_are_principal_components() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 64)) * 20 + 128
    features = pixel_features(np.clip(pixels, 0, 255).astype(np.uint8), dims=3)
    assert features.shape == (300, 3) and features.dtype == np.float32
    variances = features.var(axis=0)
    assert variances[2] < 0.01 * variances[1]  # two real directions, the third is noise
    assert np.array_equal(features, pixel_features(np.clip(pixels, 0, 255).astype(np.uint8), dims=3))
