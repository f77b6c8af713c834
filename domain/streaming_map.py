"""The first map of a dataset read in batches: ``domain.initial_map``'s randomized PCA,
fitted on an evenly spaced subsample and applied to every batch, so memory stays
bounded whatever the dataset's size.

When the subsample is the whole dataset (up to ``FIT_ROWS`` images of up to
``FIT_VALUES / FIT_ROWS`` pixels each -- MNIST 10k included) the map is the one
``pca_map`` computes over all images.
"""

from __future__ import annotations

import numpy as np

FIT_ROWS = 20_000
FIT_VALUES = 32 * 1024 * 1024  # float32 values of the fitting sample: 128 MB
# pca_map's constants: the same axes for the same images.
_SEED = 20261122
_OVERSAMPLE = 8
_POWER_ITERATIONS = 3


class StreamingMap:
    """Feed every batch in order (``add``), ``fit`` once, then ``project`` every batch
    again, in order; ``coordinates()`` is the (N, dims) float32 map."""

    def __init__(self, count: int, sample_values: int, dims: int = 2, *, fit_values: int = FIT_VALUES):
        rows = max(1, min(count, FIT_ROWS, fit_values // max(1, sample_values)))
        self.count = count
        self.dims = dims
        self._rows = np.unique(np.linspace(0, count - 1, rows).round().astype(np.int64))
        self._sample = np.empty((len(self._rows), sample_values), np.float32)
        self._filled = 0
        self._mean: np.ndarray | None = None
        self._axes: np.ndarray | None = None
        self._coords = np.zeros((count, dims), np.float32)
        self._projected = 0

    def add(self, first: int, batch: np.ndarray) -> None:
        """Keep the batch's images that belong to the fitting sample."""
        take = self._rows[(self._rows >= first) & (self._rows < first + len(batch))]
        if len(take):
            rows = _as_rows(batch[take - first])
            self._sample[self._filled : self._filled + len(rows)] = rows
            self._filled += len(rows)

    def fit(self) -> None:
        x = self._sample[: self._filled]
        self._mean = x.mean(axis=0)
        x -= self._mean
        self._axes = pca_axes(x, self.dims)
        self._sample = np.empty((0, 0), np.float32)  # no longer needed

    def project(self, first: int, batch: np.ndarray) -> None:
        assert self._mean is not None and self._axes is not None, "fit() comes first"
        rows = _as_rows(batch)
        rows -= self._mean
        m = self._axes.shape[0]
        self._coords[first : first + len(rows), :m] = rows @ self._axes.T
        self._projected = max(self._projected, first + len(rows))

    def coordinates(self) -> np.ndarray:
        coords = self._coords
        for j in range(coords.shape[1]):
            col = coords[:, j]
            # The sign fixed so the heaviest tail points right/up, as pca_map does.
            if abs(col.min()) > abs(col.max()):
                col *= -1
            peak = np.abs(col).max()
            if peak > 0:
                col /= peak
        return coords


def pca_axes(x: np.ndarray, dims: int) -> np.ndarray:
    """The first ``dims`` principal axes (rows) of the centred ``x``, as ``pca_map``
    finds them (randomized, fixed seed)."""
    k = min(dims + _OVERSAMPLE, *x.shape)
    rng = np.random.default_rng(_SEED)
    q = np.linalg.qr(x @ rng.standard_normal((x.shape[1], k), dtype=np.float32))[0]
    for _ in range(_POWER_ITERATIONS):
        q = np.linalg.qr(x @ (x.T @ q))[0]
    _, _, vt = np.linalg.svd(q.T @ x, full_matrices=False)
    axes: np.ndarray = vt[: min(dims, vt.shape[0])]
    return axes


def _as_rows(batch: np.ndarray) -> np.ndarray:
    rows = batch.reshape(len(batch), -1).astype(np.float32)
    if batch.dtype == np.uint8:
        rows /= 255.0
    return rows
