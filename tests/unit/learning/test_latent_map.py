"""The latent map keeps its orientation from one epoch to the next."""

from __future__ import annotations

import numpy as np

from domain.learning.map_layout import (
    align_to,
    class_map,
    latent_map,
    neighbour_purity,
    principal_components,
)


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


def _predictions(
    seed: int = 6, count: int = 300, classes: int = 10, confidence: float = 0.97
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confident q(y|x) rows, their classes, and 3-D z means unrelated to the class."""
    rng = np.random.default_rng(seed)
    truth = np.arange(count) % classes
    q = np.full((count, classes), (1.0 - confidence) / (classes - 1))
    q[np.arange(count), truth] = confidence
    return q.astype(np.float32), truth, rng.normal(size=(count, 3)).astype(np.float32)


def test_confident_predictions_gather_at_their_class_corner():
    q, truth, z = _predictions()
    points = class_map(q, z)
    centres = np.stack([points[truth == c].mean(axis=0) for c in range(10)])
    spread = max(np.linalg.norm(points[truth == c] - centres[c], axis=1).max() for c in range(10))
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(10) * 9.0
    assert spread < gaps.min() / 2  # every cluster is apart from every other
    assert neighbour_purity(points, truth) > 0.99
    # The z-only map of the same samples does not separate them.
    assert neighbour_purity(latent_map(z), truth) < 0.3


def test_undecided_samples_sit_between_the_classes_they_hesitate_over():
    q = np.zeros((3, 4), np.float32)
    q[0, 0], q[1, 1], q[2, :2] = 1.0, 1.0, 0.5
    points = class_map(q, np.zeros((3, 2), np.float32))
    np.testing.assert_allclose(points[2], (points[0] + points[1]) / 2, atol=1e-6)


def test_class_map_is_deterministic_and_aligned_to_the_previous_map():
    q, _, z = _predictions(7)
    first = class_map(q, z)
    np.testing.assert_array_equal(class_map(q, z), first)
    # The same model state seen with its style axes mirrored, against a previous
    # map that is a rotated copy: alignment lands back on the previous map.
    angle = 1.0
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    previous = (first @ rotation).astype(np.float32)
    mirrored = z * np.array([-1.0, 1.0, -1.0], np.float32)
    # Whole-map alignment alone cannot undo a flip of the style axes only ...
    assert np.abs(align_to(class_map(q, mirrored), previous) - previous).max() > 0.1
    # ... orienting the style part against the previous map does (up to the small
    # rotation that the style's share of the previous map leaves in the estimate).
    again = class_map(q, mirrored, previous=previous)
    np.testing.assert_allclose(again, previous, atol=0.01)


def test_neighbour_purity_counts_neighbours_of_the_same_class():
    points = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [5.1, 0.0]], np.float32)
    assert neighbour_purity(points, np.array([0, 0, 1, 1]), k=1) == 1.0
    assert neighbour_purity(points, np.array([0, 1, 0, 1]), k=1) == 0.0
    assert neighbour_purity(points, np.array([0, 0, 1, 1]), k=3) == 1 / 3
