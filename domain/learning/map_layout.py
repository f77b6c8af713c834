"""The 2-D latent map: PCA of the latent means, held steady from epoch to epoch.

PCA alone is free to rotate or mirror the picture every epoch (principal axes are
only defined up to sign and, for close eigenvalues, rotation), which would make
every point jump on screen. Aligning each new map to the previous one by
orthogonal Procrustes removes that freedom while keeping distances intact.
"""

from __future__ import annotations

import numpy as np


def principal_components(z_means: np.ndarray) -> np.ndarray:
    """Project (N, L) latent means onto their first two principal axes, centred.

    Axis signs are fixed (largest loading positive), so equal inputs give equal maps.
    """
    z = np.asarray(z_means, dtype=np.float64)
    centred = z - z.mean(axis=0)
    # Eigen-decomposition of the small L x L covariance beats an SVD of N x L.
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    axes = eigenvectors[:, np.argsort(eigenvalues)[::-1][:2]]
    signs = np.sign(axes[np.argmax(np.abs(axes), axis=0), np.arange(axes.shape[1])])
    axes = axes * np.where(signs == 0, 1.0, signs)
    projected = centred @ axes
    if projected.shape[1] < 2:  # a single latent dimension: second axis is empty
        projected = np.pad(projected, ((0, 0), (0, 2 - projected.shape[1])))
    return projected.astype(np.float32)


def align_to(current: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Rotate or reflect `current` (N, 2) to best match `previous` (N, 2).

    The orthogonal R minimising ||current·R - previous|| is U·Vᵀ from the SVD of
    currentᵀ·previous (both centred). Without a previous map of the same length,
    the map is returned unchanged.
    """
    if previous is None:
        return np.asarray(current, dtype=np.float32)
    current64 = np.asarray(current, dtype=np.float64)
    previous64 = np.asarray(previous, dtype=np.float64)
    if previous64.shape != current64.shape or not np.all(np.isfinite(previous64)):
        return np.asarray(current, dtype=np.float32)
    a = current64 - current64.mean(axis=0)
    b = previous64 - previous64.mean(axis=0)
    u, _, vt = np.linalg.svd(a.T @ b)
    return (a @ (u @ vt)).astype(np.float32)


def latent_map(z_means: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """The map shown to the person: PCA of z means, aligned to the previous map."""
    return align_to(principal_components(z_means), previous)
