"""Where the labeling keys move to. Qt-free queries over read models (label array,
prediction matrix), so they are tested without a window."""

from __future__ import annotations

import numpy as np

from domain.projections.labels import NO_LABEL

# The first stretch read after the current sample; each further one is four times longer.
_FIRST_STRETCH = 4096


def next_unlabeled(labels: np.ndarray, after: int | None) -> int | None:
    """The first unlabeled sample after ``after`` (wrapping round), or None when all are labeled.

    Reads forward from ``after`` in growing stretches, so a key press at a million samples
    reads the few thousand labels up to the next gap rather than all of them."""
    count = len(labels)
    start = 0 if after is None else min(max(after + 1, 0), count)
    for low, high in ((start, count), (0, start)):
        stretch = _FIRST_STRETCH
        while low < high:
            found = np.flatnonzero(labels[low : min(low + stretch, high)] == NO_LABEL)
            if found.size:
                return low + int(found[0])
            low += stretch
            stretch *= 4
    return None


def entropy(predictions: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row of class probabilities."""
    p = np.clip(np.asarray(predictions, dtype=np.float64), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def most_uncertain(predictions: np.ndarray | None, labels: np.ndarray) -> int | None:
    """The unlabeled sample whose latest prediction has the highest entropy."""
    if predictions is None or len(predictions) != len(labels):
        return None
    unlabeled = np.flatnonzero(labels == NO_LABEL)
    if unlabeled.size == 0:
        return None
    return int(unlabeled[np.argmax(entropy(predictions[unlabeled]))])


def step(current: int | None, delta: int, count: int) -> int | None:
    """``current`` moved by ``delta``, kept within 0..count-1."""
    if count == 0:
        return None
    if current is None:
        return 0 if delta >= 0 else count - 1
    return int(min(max(current + delta, 0), count - 1))
