"""The latent map keeps its orientation from one epoch to the next."""

from __future__ import annotations

import numpy as np

from domain.learning import align_to, latent_map, principal_components


def _cloud(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(200, 2)) * np.array([3.0, 1.0])
    return (points - points.mean(axis=0)).astype(np.float32)


def test_a_mirrored_copy_is_aligned_back_onto_the_previous_map():
    previous = _cloud()
    mirrored = previous * np.array([1.0, -1.0], np.float32)
    np.testing.assert_allclose(align_to(mirrored, previous), previous, atol=1e-5)


def test_a_rotated_copy_is_aligned_back_onto_the_previous_map():
    previous = _cloud(1)
    angle = 2.0
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    np.testing.assert_allclose(align_to(previous @ rotation, previous), previous, atol=1e-4)


def test_alignment_keeps_distances_between_points():
    previous, current = _cloud(2), _cloud(3)
    aligned = align_to(current, previous)
    before = np.linalg.norm(current[:, None] - current[None], axis=-1)
    after = np.linalg.norm(aligned[:, None] - aligned[None], axis=-1)
    np.testing.assert_allclose(after, before, atol=1e-4)


def test_without_a_usable_previous_map_the_map_is_unchanged():
    current = _cloud()
    np.testing.assert_array_equal(align_to(current, None), current)
    np.testing.assert_array_equal(align_to(current, np.zeros((3, 2))), current)


def test_pca_puts_the_widest_spread_first_with_a_fixed_sign():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(300, 5)) * np.array([0.1, 5.0, 0.2, 2.0, 0.1])
    projected = principal_components(z)
    assert projected.shape == (300, 2) and projected.dtype == np.float32
    assert projected[:, 0].var() > projected[:, 1].var() > 3.0
    # Axis signs follow the data, not the eigen-solver: each axis points along
    # the latent dimension that dominates it.
    assert np.corrcoef(projected[:, 0], z[:, 1])[0, 1] > 0.99
    assert np.corrcoef(projected[:, 1], z[:, 3])[0, 1] > 0.99


def test_latent_map_follows_a_mirror_image_of_the_latent_space():
    z = _cloud(5) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 2.0]])
    first = latent_map(z)
    second = latent_map(z * np.array([-1.0, 1.0, -1.0]), previous=first)
    np.testing.assert_allclose(second, first, atol=1e-4)
