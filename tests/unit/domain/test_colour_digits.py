"""The coloured-digit set: deterministic, coloured, digits visible and recognisable by
shape, backgrounds that vary from picture to picture; in the textured variant each digit
at its own size, in the cluttered one at any place and size, some faint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from domain.colour_digits import VARIANTS, make_colour_digits

MNIST = Path(__file__).resolve().parents[3] / "resources" / "mnist10k.npz"


@pytest.fixture(scope="module")
def mnist() -> tuple[np.ndarray, np.ndarray]:
    with np.load(MNIST) as data:
        return data["images"][:600], data["labels"][:600]


@pytest.fixture(scope="module", params=VARIANTS)
def variant_pictures(request, mnist) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    digits, labels = mnist
    images, out_labels = make_colour_digits(digits, labels, seed=3, variant=request.param)
    backgrounds, _ = make_colour_digits(np.zeros_like(digits), labels, seed=3, variant=request.param)
    return request.param, images, out_labels, backgrounds


@pytest.fixture(scope="module")
def pictures(variant_pictures) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return variant_pictures[1:]


def test_shapes_dtype_and_labels(pictures, mnist):
    images, labels, _ = pictures
    assert images.shape == (600, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, mnist[1])
    assert labels is not mnist[1]


def test_same_seed_same_bytes_other_seed_other_pictures(mnist, variant_pictures):
    digits, labels = mnist
    variant, images = variant_pictures[:2]
    again, _ = make_colour_digits(digits[:50], labels[:50], seed=3, variant=variant)
    np.testing.assert_array_equal(again, images[:50])  # a prefix is the same pictures
    other, _ = make_colour_digits(digits[:50], labels[:50], seed=4, variant=variant)
    assert np.mean(other != again) > 0.5


def test_other_sizes(mnist):
    images, _ = make_colour_digits(mnist[0][:5], mnist[1][:5], seed=0, size=48)
    assert images.shape == (5, 48, 48, 3)


def test_pictures_are_in_colour(pictures):
    images = pictures[0].astype(float)
    spread = images.max(-1) - images.min(-1)  # 0 for a grey pixel
    assert np.mean(spread > 20) > 0.5


def test_every_digit_is_visible(variant_pictures):
    variant, images, _, backgrounds = variant_pictures
    change = np.linalg.norm(images.astype(float) - backgrounds, axis=-1) / 255
    assert np.all((change > 0.1).sum(axis=(1, 2)) >= 10)  # the ink covers pixels in every picture
    contrast = np.array([c[c > 0.02].mean() for c in change])
    if variant == "cluttered":
        assert np.quantile(contrast, 0.01) > 0.1
        assert np.quantile(contrast, 0.5) < 0.6  # but not all loud: some digits are faint
    else:
        assert np.quantile(contrast, 0.01) > 0.2  # no faint ones


def test_digits_recognisable_by_shape(pictures):
    """A nearest-class-mean guess on the ink's shape, cropped and resized, is far above chance."""
    images, labels, backgrounds = pictures
    ink = np.linalg.norm(images.astype(float) - backgrounds, axis=-1) / 255 > 0.1
    shapes = np.stack([_cropped(mask) for mask in ink])
    means = np.stack([shapes[:400][labels[:400] == c].mean(0) for c in range(10)])
    guess = np.argmin(((shapes[400:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert np.mean(guess == labels[400:]) > 0.5


def test_cluttered_digits_are_not_at_one_place_or_size(mnist):
    digits, labels = mnist
    images, _ = make_colour_digits(digits, labels, seed=3, variant="cluttered")
    backgrounds, _ = make_colour_digits(np.zeros_like(digits), labels, seed=3, variant="cluttered")
    ink = np.linalg.norm(images.astype(float) - backgrounds, axis=-1) / 255 > 0.1
    rows = np.array([np.flatnonzero(m.any(1))[[0, -1]] for m in ink])
    cols = np.array([np.flatnonzero(m.any(0))[[0, -1]] for m in ink])
    assert np.ptp(rows[:, 0]) >= 6 and np.ptp(cols[:, 0]) >= 6
    heights = rows[:, 1] - rows[:, 0]
    assert np.ptp(heights) >= 5


def test_textured_digits_keep_their_size_and_move_a_little():
    """A 28 x 28 'digit' that is all ink shows as a 28 x 28 square at most 4 pixels from
    the corner of the 32 x 32 picture, at different places in different pictures."""
    squares = np.full((60, 28, 28), 255, np.uint8)
    images, _ = make_colour_digits(squares, np.zeros(60), seed=3)
    backgrounds, _ = make_colour_digits(np.zeros_like(squares), np.zeros(60), seed=3)
    ink = np.linalg.norm(images.astype(float) - backgrounds, axis=-1) / 255 > 0.1
    corners = []
    for mask in ink:
        rows = np.flatnonzero(mask.mean(1) > 0.5)
        cols = np.flatnonzero(mask.mean(0) > 0.5)
        assert len(rows) == 28 and len(cols) == 28  # its own size
        corners.append((rows[0], cols[0]))
    corners = np.array(corners)
    assert corners.min() >= 0 and corners.max() <= 4
    assert len({tuple(c) for c in corners}) >= 10  # not one place


def test_an_unknown_variant_is_refused(mnist):
    with pytest.raises(ValueError, match="variant must be one of textured, cluttered"):
        make_colour_digits(mnist[0][:2], mnist[1][:2], seed=0, variant="plain")


def test_backgrounds_vary(pictures):
    backgrounds = pictures[2].astype(float)
    mean_colour = backgrounds.mean(axis=(1, 2))
    assert np.all(mean_colour.std(axis=0) > 20)  # many colours, not one backdrop
    texture = backgrounds.std(axis=(1, 2)).mean(-1)
    assert np.quantile(texture, 0.9) > 3 * np.quantile(texture, 0.1)  # plain and busy ones
    flat = backgrounds.reshape(len(backgrounds), -1)
    assert len(np.unique(flat[:, :96], axis=0)) == len(flat)


@pytest.mark.parametrize(
    ("digits", "labels", "seed", "size", "words"),
    [
        (np.zeros((2, 28, 28), np.float32), np.zeros(2), 0, 32, "uint8"),
        (np.zeros((2, 28, 28), np.uint8), np.zeros(3), 0, 32, "one entry per digit"),
        (np.zeros((2, 28, 28), np.uint8), np.zeros(2), -1, 32, "seed"),
        (np.zeros((2, 28, 28), np.uint8), np.zeros(2), 0, 8, "size"),
    ],
)
def test_bad_input_says_what_to_give(digits, labels, seed, size, words):
    with pytest.raises(ValueError, match=words):
        make_colour_digits(digits, labels, seed, size)


def _cropped(mask: np.ndarray, side: int = 12) -> np.ndarray:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    box = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    r = ((np.arange(side) + 0.5) * box.shape[0] / side).astype(int)
    c = ((np.arange(side) + 0.5) * box.shape[1] / side).astype(int)
    return box[np.ix_(r, c)].astype(float).ravel()
