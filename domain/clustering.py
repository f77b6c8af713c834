"""Features and clusters of samples: randomized PCA of pixels, k-means, kNN typicality.

Everything is numpy — k-means, PCA and nearest neighbours are small enough to write
here, and scikit-learn's import alone costs ~1 s on our 2-core machine, more than a
whole suggestion (domain/suggestions.py, which chooses samples with them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# Subsamples that bound the cost at any dataset size. PCA axes and k-means centres
# from 5,000 / 10,000 rows are as good as from all rows for choosing 10-500 clusters,
# and every row is still projected and assigned.
PCA_ROWS = 5_000
KMEANS_ROWS = 10_000
PCA_DIMS = 50
_PCA_OVERSAMPLE = 10
_PCA_POWER_ITERATIONS = 4
# Lloyd iterations: 10 blobs settle in under 10; 500 clusters of MNIST move by a
# few samples after 20, which changes which sample is typical, not how typical.
_KMEANS_ITERATIONS = 20
_CHUNK = 8_192


def pixel_features(pixels: npt.ArrayLike, dims: int = PCA_DIMS, seed: int = 0) -> FloatArray:
    """(N, dims) float32 principal components of the pixels (uint8 scaled to [0, 1]).

    Randomized PCA (Halko et al.) fitted on at most PCA_ROWS rows, then every row is
    projected in chunks, so a 100,000 x 784 uint8 set is never copied to float whole.
    50 dimensions: kNN label propagation on MNIST found mislabels best with 50 of the
    30 and 50 measured (domain/label_quality.py).
    """
    array = np.asarray(pixels)
    flat = array.reshape(array.shape[0], -1)
    scale = np.float32(1 / 255) if flat.dtype == np.uint8 else np.float32(1)
    rng = np.random.default_rng(seed)
    rows = subsample(flat.shape[0], PCA_ROWS, rng)
    sample = flat[rows].astype(np.float32) * scale
    mean = sample.mean(axis=0)
    sample -= mean
    dims = max(1, min(int(dims), *sample.shape))
    width = min(dims + _PCA_OVERSAMPLE, *sample.shape)
    q = _orthonormal(sample @ rng.standard_normal((sample.shape[1], width)).astype(np.float32))
    for _ in range(_PCA_POWER_ITERATIONS):
        q = _orthonormal(sample @ (sample.T @ q))
    _, _, vt = np.linalg.svd(q.T @ sample, full_matrices=False)
    axes = vt[:dims].T.astype(np.float32)
    # Sign of each axis fixed (largest loading positive): same pixels, same features.
    signs = np.sign(axes[np.argmax(np.abs(axes), axis=0), np.arange(dims)])
    axes *= np.where(signs == 0, 1, signs).astype(np.float32)
    offset = mean @ axes
    out = np.empty((flat.shape[0], dims), np.float32)
    for start in range(0, flat.shape[0], _CHUNK):
        chunk = flat[start : start + _CHUNK].astype(np.float32) * scale
        out[start : start + _CHUNK] = chunk @ axes - offset
    return out


def kmeans(points: FloatArray, clusters: int, rng: np.random.Generator) -> tuple[FloatArray, IntArray]:
    """Centres (clusters, F) and the (N,) cluster of every point.

    k-means++ seeding and Lloyd iterations on at most KMEANS_ROWS points, then every
    point goes to its nearest centre. Empty clusters keep their seed.
    """
    fit = points[subsample(points.shape[0], KMEANS_ROWS, rng)]
    clusters = max(1, min(int(clusters), fit.shape[0]))
    centres = _kmeans_plus_plus(fit, clusters, rng)
    assignment = np.full(fit.shape[0], -1, np.int64)
    for _ in range(_KMEANS_ITERATIONS):
        new = _nearest(fit, centres)
        if np.array_equal(new, assignment):
            break
        assignment = new
        order = np.argsort(assignment, kind="stable")
        present, starts, sizes = np.unique(assignment[order], return_index=True, return_counts=True)
        sums = np.add.reduceat(fit[order], starts, axis=0)
        centres[present] = (sums / sizes[:, None]).astype(np.float32)
    return centres, _nearest(points, centres)


def typicality(
    queries: FloatArray, reference: FloatArray, query_ids: IntArray, reference_ids: IntArray, neighbours: int
) -> FloatArray:
    """1 / mean distance of each query to its `neighbours` nearest references.

    A reference with the query's own id is not its neighbour.
    """
    k = max(1, min(neighbours, reference.shape[0] - 1))
    out = np.empty(queries.shape[0], np.float32)
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    for start in range(0, queries.shape[0], _CHUNK // 4):
        q = queries[start : start + _CHUNK // 4]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] - 2 * (q @ reference.T) + ref_sq[None, :]
        d2[query_ids[start : start + _CHUNK // 4, None] == reference_ids[None, :]] = np.inf
        nearest = np.partition(np.maximum(d2, 0), k - 1, axis=1)[:, :k]
        out[start : start + q.shape[0]] = 1.0 / (np.sqrt(nearest).mean(axis=1) + 1e-5)
    return out


def _kmeans_plus_plus(points: FloatArray, clusters: int, rng: np.random.Generator) -> FloatArray:
    """Greedy k-means++ (as scikit-learn's): of 2 + log k seeds drawn, keep the one
    that lowers the total squared distance most. Plain k-means++ merged two of ten
    separated blobs in 6 of 50 trials; greedy seeding in none. Above 50 clusters
    (where TypiClust too settles for mini-batch k-means) one draw: greedy seeding of
    500 clusters took 0.5 s of a 1.1 s suggestion at 10,000 samples."""
    centres = np.empty((clusters, points.shape[1]), np.float32)
    centres[0] = points[rng.integers(points.shape[0])]
    closest = ((points - centres[0]) ** 2).sum(axis=1)
    trials = 2 + int(np.log(clusters)) if clusters <= 50 else 1
    squares = np.einsum("ij,ij->i", points, points)
    for j in range(1, clusters):
        total = float(closest.sum())
        if total <= 0:  # fewer distinct points than clusters: repeat one
            centres[j:] = centres[0]
            break
        candidates = rng.choice(points.shape[0], trials, p=closest / total)
        seeds = points[candidates]
        distances = squares[None, :] - 2 * (seeds @ points.T) + squares[candidates][:, None]
        potentials = np.minimum(closest[None, :], np.maximum(distances, 0))
        best = int(np.argmin(potentials.sum(axis=1)))
        centres[j] = points[candidates[best]]
        closest = potentials[best]
    return centres


def _nearest(points: FloatArray, centres: FloatArray) -> IntArray:
    centre_sq = np.einsum("ij,ij->i", centres, centres)
    out = np.empty(points.shape[0], np.int64)
    for start in range(0, points.shape[0], _CHUNK):
        chunk = points[start : start + _CHUNK]
        out[start : start + chunk.shape[0]] = np.argmin(centre_sq[None, :] - 2 * (chunk @ centres.T), axis=1)
    return out


def _orthonormal(a: npt.NDArray[np.floating[Any]]) -> FloatArray:
    q, _ = np.linalg.qr(a)
    return q.astype(np.float32)


def subsample(size: int, limit: int, rng: np.random.Generator) -> IntArray:
    if size <= limit:
        return np.arange(size, dtype=np.int64)
    return np.sort(rng.choice(size, limit, replace=False)).astype(np.int64)
