"""Which samples a person should label next: the query strategies of active learning.

This module owns the choice, not its record: `suggest` is a pure, seeded function
of the label set and of what is known about the samples (pixels, a run's features,
a run's class probabilities). The application records its result as an event and
shows the reasons beside each suggested sample.

Strategies
----------
- ``typical`` (cold start, no model needed) — TypiClust (Hacohen, Dekel & Weinshall,
  ICML 2022, `avihu111/TypiClust`, `pycls/al/typiclust.py`): cluster the samples into
  as many clusters as labels there will be (labels so far + count), visit the
  clusters with the fewest labels first (larger first among equals, clusters of 5 or
  fewer samples skipped as TypiClust does), and take from each the unlabeled sample
  of highest typicality, 1 / mean Euclidean distance to its k = 20 nearest
  neighbours within the cluster (TypiClust averages faiss's squared distances; the
  plain distance is the density estimate the paper writes down). With few labels the
  typical samples of uncovered clusters beat both random and uncertainty picks, which
  need a model that does not exist yet.
- ``uncertain`` — the smallest margin between the two most probable classes
  (default), or the largest entropy, of a run's class probabilities.
- ``diverse`` — uncertainty spread over clusters (Zhdanov 2019, "Diverse mini-batch
  active learning"): the 10 x count most uncertain samples are k-means-clustered into
  `count` groups and the most uncertain sample of each group is taken, so a batch of
  ten is not ten near-copies of the one confusing stroke.
- ``random`` — for comparison.
- ``auto`` — ``typical`` while there is no model (no probabilities) or no label,
  ``diverse`` afterwards.

Features: a run's embedding when the caller gives one, else the principal components
of the pixels (`pixel_features`, randomized PCA fitted on a subsample; 20 components
to cluster by, see CLUSTER_PCA_DIMS); PCA, k-means and the kNN density are numpy, in
domain/clustering.py (scikit-learn's import alone costs ~1 s here). Measured on one core of the
shared machine (benchmarks/active_learning.py, medians of 3): 10 typical suggestions
from the pixels take 0.27 s at 10,000 MNIST samples without labels (0.40 s with 500,
which means 510 clusters) and 0.62 s at a synthetic 100,000 (0.47 s with 500 labels);
uncertain and diverse take 0.003-0.03 s. Typical picks are worth having: a logistic
regression trained on 10 typical picks scored 54 % on the other samples against 33 %
for 10 random picks (66 % against 48 % with 20; means of 10 seeds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.clustering import FloatArray, IntArray, kmeans, pixel_features, subsample, typicality

STRATEGIES = ("auto", "typical", "uncertain", "diverse", "random")
UNCERTAINTIES = ("margin", "entropy")

# TypiClust's constants: k of the density estimate, the size below which a cluster
# is noise rather than a mode, and the most clusters worth computing.
TYPICALITY_NEIGHBOURS = 20
MIN_CLUSTER_SIZE = 5
MAX_CLUSTERS = 500
# Zhdanov's beta: the diverse batch is drawn from the 10 x count most uncertain samples.
POOL_PER_PICK = 10

# A cluster's density is estimated against at most 2,000 of its members (at 100,000
# samples a 10-cluster typical suggestion then takes ~1.3 s instead of ~8 s with all).
DENSITY_ROWS = 2_000
# Fewer components to cluster by: densities and k-means in 20 dimensions picked better
# cold-start labels than in 50 or 100 (a logistic regression on 10 typical picks scored
# 54 % on the other MNIST samples with 20, 49 % with 50, 47 % with 100; 10 random
# picks 33 %; means of 10 seeds; at 20 picks 66 %, 65 %, 63 % and 48 %).
CLUSTER_PCA_DIMS = 20


@dataclass(frozen=True)
class Suggestions:
    """Samples to label next, most worth labeling first.

    strategy: the strategy actually used (``auto`` resolved).
    scores: the measure each sample was picked by — typicality for ``typical``,
        margin (lower: closer call) or entropy in nats for ``uncertain`` and
        ``diverse``, 0 for ``random``.
    reasons: one short sentence per sample, for the person.
    """

    strategy: str
    samples: tuple[int, ...]
    scores: tuple[float, ...]
    reasons: tuple[str, ...]


def suggest(
    strategy: str,
    count: int,
    *,
    labels: npt.ArrayLike,
    pixels: npt.ArrayLike | None = None,
    features: npt.ArrayLike | None = None,
    probabilities: npt.ArrayLike | None = None,
    uncertainty: str = "margin",
    seed: int = 0,
) -> Suggestions:
    """Up to `count` unlabeled samples to label next, by `strategy`.

    labels: (N,) ints, -1 for unlabeled. pixels: (N, ...) images, used for features
    when `features` is None. features: (N, F) a run's embedding. probabilities:
    (N, C) a run's class probabilities (needed by ``uncertain`` and ``diverse``).
    Fewer than `count` samples come back only when fewer are unlabeled. A labeled
    sample is never suggested. Raises ValueError for an unknown strategy, a count
    below 1, or inputs that do not fit together.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if uncertainty not in UNCERTAINTIES:
        raise ValueError(f"unknown uncertainty {uncertainty!r}: choose margin or entropy")
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a whole number of at least 1, got {count!r}")
    label_array = _checked_labels(labels)
    n = label_array.shape[0]
    pixel_array = None if pixels is None else _checked_rows("pixels", pixels, n)
    feature_array = None if features is None else _checked_rows("features", features, n)
    probability_array = None if probabilities is None else _checked_probabilities(probabilities, n)
    if strategy == "auto":
        no_model = probability_array is None or not bool(np.any(label_array >= 0))
        strategy = "typical" if no_model else "diverse"
    unlabeled = np.flatnonzero(label_array < 0)
    count = min(int(count), unlabeled.size)
    if count == 0:
        return Suggestions(strategy, (), (), ())
    rng = np.random.default_rng(seed)
    if strategy == "random":
        picks = np.sort(rng.choice(unlabeled, count, replace=False))
        return Suggestions(
            strategy,
            _ints(picks),
            (0.0,) * count,
            (f"drawn at random (seed {seed}), for comparison",) * count,
        )
    if strategy == "typical":
        points = _features(feature_array, pixel_array, None, seed, "typical")
        return _typical(points, label_array, count, rng)
    if probability_array is None:
        raise ValueError(
            f"{strategy} needs class probabilities from a trained run; "
            f"before the first run, use typical or auto"
        )
    if strategy == "uncertain":
        return _uncertain(probability_array, unlabeled, count, uncertainty)
    return _diverse(probability_array, unlabeled, count, uncertainty, feature_array, pixel_array, rng, seed)


def margins(probabilities: FloatArray) -> tuple[FloatArray, IntArray, IntArray]:
    """Margin between the two most probable classes, and those two classes."""
    top2 = np.argsort(-probabilities, axis=1, kind="stable")[:, :2]
    rows = np.arange(probabilities.shape[0])
    first, second = probabilities[rows, top2[:, 0]], probabilities[rows, top2[:, 1]]
    return (first - second).astype(np.float32), top2[:, 0], top2[:, 1]


def entropies(probabilities: FloatArray) -> FloatArray:
    """Entropy of each row, in nats."""
    p: FloatArray = np.clip(probabilities, np.float32(1e-12), np.float32(1.0))
    entropy: FloatArray = -(p * np.log(p)).sum(axis=1)
    return entropy.astype(np.float32)


def _typical(points: FloatArray, labels: IntArray, count: int, rng: np.random.Generator) -> Suggestions:
    labeled = labels >= 0
    clusters = min(int(labeled.sum()) + count, MAX_CLUSTERS, points.shape[0])
    _, assignment = kmeans(points, clusters, rng)
    sizes = np.bincount(assignment, minlength=clusters)
    label_counts = np.bincount(assignment[labeled], minlength=clusters)
    open_counts = sizes - label_counts
    open_clusters = [c for c in range(clusters) if open_counts[c] > 0]
    usable = [c for c in open_clusters if sizes[c] > MIN_CLUSTER_SIZE] or open_clusters
    order = sorted(usable, key=lambda c: (label_counts[c], -sizes[c], c))
    ranked: dict[int, list[tuple[int, float]]] = {}
    samples: list[int] = []
    scores: list[float] = []
    reasons: list[str] = []
    picked = dict.fromkeys(order, 0)
    turn = 0
    while len(samples) < count and order:
        cluster = order[turn % len(order)]
        if cluster not in ranked:
            ranked[cluster] = _most_typical(points, assignment, labeled, cluster, rng)
        if not ranked[cluster]:
            order.remove(cluster)
            continue
        sample, score = ranked[cluster].pop(0)
        samples.append(sample)
        scores.append(score)
        has = int(label_counts[cluster])
        known = "which has no label yet" if has == 0 else f"which has {has} label{'s' if has > 1 else ''}"
        picked[cluster] += 1
        nth = "most typical" if picked[cluster] == 1 else f"typical (#{picked[cluster]})"
        reasons.append(f"{nth} of cluster {cluster} ({int(sizes[cluster]):,} samples), {known}")
        turn += 1
    return Suggestions("typical", tuple(samples), tuple(scores), tuple(reasons))


def _most_typical(
    points: FloatArray,
    assignment: IntArray,
    labeled: npt.NDArray[np.bool_],
    cluster: int,
    rng: np.random.Generator,
) -> list[tuple[int, float]]:
    """The cluster's unlabeled samples by typicality, most typical first (at most 2,000)."""
    members = np.flatnonzero(assignment == cluster)
    candidates = members[~labeled[members]]
    candidates = candidates[np.sort(subsample(candidates.size, DENSITY_ROWS, rng))]
    reference = members[np.sort(subsample(members.size, DENSITY_ROWS, rng))]
    # TypiClust: in a small cluster the density is taken over half of it.
    k = min(TYPICALITY_NEIGHBOURS, max(1, members.size // 2))
    values = typicality(points[candidates], points[reference], candidates, reference, k)
    order = np.argsort(-values, kind="stable")
    return [(int(candidates[i]), float(values[i])) for i in order]


def _uncertainty(probabilities: FloatArray, rows: IntArray, measure: str) -> tuple[FloatArray, FloatArray]:
    """For `rows`: the priority (higher first) and the score shown."""
    if measure == "margin":
        margin = margins(probabilities[rows])[0]
        return -margin, margin
    entropy = entropies(probabilities[rows])
    return entropy, entropy


def _uncertainty_reason(probabilities: FloatArray, sample: int, measure: str) -> str:
    row = probabilities[sample]
    first, second = (int(c) for c in np.argsort(-row, kind="stable")[:2])
    if measure == "margin":
        margin = float(row[first] - row[second])
        shown = f"{margin:.2f}" if margin >= 0.005 else "below 0.01"
        return f"margin {shown} between {first} and {second}"
    return (
        f"entropy {float(entropies(row[None, :])[0]):.2f} nats: "
        f"{first} ({row[first]:.0%}) or {second} ({row[second]:.0%})"
    )


def _uncertain(probabilities: FloatArray, unlabeled: IntArray, count: int, measure: str) -> Suggestions:
    priority, shown = _uncertainty(probabilities, unlabeled, measure)
    order = np.argsort(-priority, kind="stable")[:count]
    return Suggestions(
        "uncertain",
        _ints(unlabeled[order]),
        tuple(float(shown[i]) for i in order),
        tuple(_uncertainty_reason(probabilities, int(unlabeled[i]), measure) for i in order),
    )


def _diverse(
    probabilities: FloatArray,
    unlabeled: IntArray,
    count: int,
    measure: str,
    features: FloatArray | None,
    pixels: FloatArray | None,
    rng: np.random.Generator,
    seed: int,
) -> Suggestions:
    priority, shown = _uncertainty(probabilities, unlabeled, measure)
    pool = np.argsort(-priority, kind="stable")[: min(unlabeled.size, POOL_PER_PICK * count)]
    points = _features(features, pixels, probabilities, seed, "diverse", unlabeled[pool])
    _, group = kmeans(points, count, rng)
    chosen: list[int] = []
    for g in np.unique(group):  # the pool is in priority order: first of a group is best
        chosen.append(int(np.flatnonzero(group == g)[0]))
    # k-means may leave a group empty; the next most uncertain fill the batch.
    taken = set(chosen)
    chosen += [i for i in range(pool.size) if i not in taken][: count - len(chosen)]
    chosen.sort()
    sizes = np.bincount(group, minlength=count)
    picks = pool[chosen]
    return Suggestions(
        "diverse",
        _ints(unlabeled[picks]),
        tuple(float(shown[i]) for i in picks),
        tuple(
            f"{_uncertainty_reason(probabilities, int(unlabeled[i]), measure)}; most "
            f"uncertain of its group ({int(sizes[group[c]])} of the {pool.size} most "
            f"uncertain)"
            for i, c in zip(picks, chosen)
        ),
    )


def _features(
    features: FloatArray | None,
    pixels: FloatArray | None,
    probabilities: FloatArray | None,
    seed: int,
    strategy: str,
    rows: IntArray | None = None,
) -> FloatArray:
    """The best features there are for `rows` (all samples when None)."""
    if features is not None:
        return features if rows is None else features[rows]
    if pixels is not None:
        return pixel_features(pixels if rows is None else pixels[rows], CLUSTER_PCA_DIMS, seed)
    if probabilities is not None:
        return probabilities if rows is None else probabilities[rows]
    raise ValueError(f"{strategy} needs the samples' pixels or features to cluster them")


def _ints(values: npt.NDArray[np.integer]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _checked_labels(labels: npt.ArrayLike) -> IntArray:
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"labels must be one integer per sample, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"labels must be integers (-1 for unlabeled), got {array.dtype}")
    if array.size and int(array.min()) < -1:
        raise ValueError(f"labels must be a class (0 or more) or -1 (unlabeled), got {int(array.min())}")
    return array.astype(np.int64)


def _checked_rows(name: str, values: npt.ArrayLike, n: int) -> FloatArray:
    array = np.asarray(values)
    if array.ndim < 2 or array.shape[0] != n:
        raise ValueError(f"{name} must have one row per sample ({n:,}), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be numbers, got {array.dtype}")
    array = array.reshape(n, -1)
    if array.dtype == np.uint8:  # pixels: pixel_features scales them chunk by chunk
        return array
    out = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contain NaN or infinite values")
    return out


def _checked_probabilities(values: npt.ArrayLike, n: int) -> FloatArray:
    array = _checked_rows("probabilities", values, n)
    if array.shape[1] < 2:
        raise ValueError(f"probabilities need at least 2 classes, got {array.shape[1]}")
    if np.any(array < 0):
        raise ValueError("probabilities must not be negative")
    return array
