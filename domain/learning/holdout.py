"""Which labels a run keeps out of training to score itself: a stable, stratified share.

A labeled sample is held out when a hash of the sample (its index in the data set)
falls below the share. The hash does not depend on the label, on the other labels or
on the run, so a held-out sample stays held out as labels are added, relabelled or
removed, in every run of the project, and a sample trained on is never held out later
(which would make the figure flatter the model). Since the choice is independent of
the class, every class keeps the same share out in expectation: the held-out set is
stratified like the labels themselves, without quotas that would move it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def sample_hash(samples: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """A uniform number in [0, 1) per sample index (SplitMix64's finaliser, wrapping)."""
    z = np.asarray(samples, dtype=np.uint64) + _GOLDEN
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def held_out(labels: npt.ArrayLike, share: float) -> npt.NDArray[np.bool_]:
    """The labeled samples (label >= 0) kept out of training at ``share`` (0: none)."""
    array = np.asarray(labels)
    if share <= 0:
        return np.zeros(array.shape, bool)
    return (array >= 0) & (sample_hash(np.arange(array.shape[0])) < share)
