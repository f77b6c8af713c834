"""The map shown before any training: the samples' pixels projected on their
first two principal components.

Randomized PCA (Halko et al.) with a fixed seed: O(N·D) for any image size,
where the covariance or Gram matrix would be D² or N² -- and the same dataset
always yields the same map.
"""

from __future__ import annotations

import io

import numpy as np

_SEED = 20261122
_OVERSAMPLE = 8
_POWER_ITERATIONS = 3
_CHUNK = 4096


def pca_map(images: np.ndarray, dims: int = 2) -> np.ndarray:
    """float32 (N, dims) coordinates; each axis scaled to [-1, 1], sign fixed."""
    n = images.shape[0]
    x = images.reshape(n, -1).astype(np.float32)
    x /= 255.0 if images.dtype == np.uint8 else 1.0
    x -= x.mean(axis=0)
    k = min(dims + _OVERSAMPLE, *x.shape)
    rng = np.random.default_rng(_SEED)
    q = _orthonormal(x @ rng.standard_normal((x.shape[1], k), dtype=np.float32))
    for _ in range(_POWER_ITERATIONS):
        q = _orthonormal(x @ (x.T @ q))
    _, _, vt = np.linalg.svd(q.T @ x, full_matrices=False)
    coords = np.zeros((n, dims), dtype=np.float32)
    m = min(dims, vt.shape[0])
    coords[:, :m] = x @ vt[:m].T
    for j in range(m):
        col = coords[:, j]
        # Fix the sign so the heaviest tail points right/up, whatever the SVD chose.
        if abs(col.min()) > abs(col.max()):
            col *= -1
        peak = np.abs(col).max()
        if peak > 0:
            col /= peak
    return coords


def _orthonormal(a: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(a)
    return q


def encode_map(coords: np.ndarray) -> bytes:
    """The blob format of a latent map: a float32 .npy array (samples x dims)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(coords, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def decode_map(blob: bytes) -> np.ndarray:
    coords: np.ndarray = np.load(io.BytesIO(blob), allow_pickle=False)
    return coords
