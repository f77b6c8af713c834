"""Images brought to the training resolution (domain/resample.py)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest

from domain.resample import output_shape, target_size, to_training_size


def _images(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


class Chunks:
    """A dataset read a chunk at a time, as the project's DatasetImages reads it."""

    def __init__(self, images: np.ndarray, rows: int) -> None:
        self.images, self.rows = images, rows
        self.shape = images.shape
        self.reads = 0

    def iter_chunks(self) -> Iterator[np.ndarray]:
        for start in range(0, len(self.images), self.rows):
            self.reads += 1
            yield self.images[start : start + self.rows].copy()  # a fresh chunk, as read from disk

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.images


def test_longest_side_becomes_the_size_keeping_the_aspect() -> None:
    assert target_size(64, 64, 32) == (32, 32)
    assert target_size(300, 200, 32) == (32, 21)  # 200 * 32 / 300 = 21.3
    assert target_size(200, 300, 128) == (85, 128)
    assert target_size(1000, 10, 32) == (32, 1)  # at least one pixel
    assert output_shape((5, 300, 200, 3), 32) == (5, 32, 21, 3)
    assert output_shape((5, 300, 200, 4), 32) == (5, 32, 21, 3)
    assert output_shape((5, 64, 64, 1), 32) == (5, 32, 32)


def test_images_within_the_size_or_size_zero_come_back_unchanged() -> None:
    mnist_like = _images((50, 28, 28))
    assert to_training_size(mnist_like, 32) is mnist_like  # old runs rerun bit for bit
    big = _images((3, 64, 48, 3))
    assert to_training_size(big, 0) is big
    assert to_training_size(big, 64) is big
    chunked = Chunks(mnist_like, 16)
    assert to_training_size(chunked, 32) is mnist_like  # the stored array, not a copy


def test_never_enlarged() -> None:
    small = _images((4, 20, 10, 3))
    out = to_training_size(small, 128)
    assert out.shape == (4, 20, 10, 3)
    np.testing.assert_array_equal(out, small)


def test_shrinking_averages_and_keeps_colour() -> None:
    images = np.zeros((2, 64, 64, 3), np.uint8)
    images[0, :, :32] = (255, 0, 0)  # left half red, right half black
    images[1, ::2, ::2] = (0, 200, 100)  # every other pixel: averages to a quarter
    out = to_training_size(images, 32)
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.uint8
    assert (out[0, :, :16] == (255, 0, 0)).all() and (out[0, :, 16:] == 0).all()
    assert (out[1] == (0, 50, 25)).all()
    grey = to_training_size(np.full((1, 300, 200), 77, np.uint8), 32)
    assert grey.shape == (1, 32, 21) and (grey == 77).all()


def test_whole_factors_average_blocks_with_pillow_reduce() -> None:
    from PIL import Image

    images = _images((6, 96, 64, 3), seed=9)
    assert to_training_size(images, 32).shape == (6, 32, 21, 3)  # 64/3 is not whole: Pillow's BOX
    whole = to_training_size(_images((6, 96, 96, 3), seed=9), 32)  # factor 3
    pillow = np.stack([np.asarray(Image.fromarray(i).reduce(3)) for i in _images((6, 96, 96, 3), seed=9)])
    np.testing.assert_array_equal(whole, pillow)


def test_same_bytes_every_time() -> None:
    images = _images((20, 300, 200, 3), seed=3)
    first = to_training_size(images, 32)
    second = to_training_size(images.copy(), 32)
    assert first.tobytes() == second.tobytes()
    by_chunks = to_training_size(Chunks(images, 7), 32)
    assert by_chunks.tobytes() == first.tobytes()


def test_rgba_is_composited_over_white_and_one_channel_is_grey() -> None:
    rgba = np.zeros((1, 8, 8, 4), np.uint8)
    rgba[0, :4] = (0, 0, 0, 0)  # transparent: white
    rgba[0, 4:] = (0, 0, 200, 255)  # opaque blue
    rgba[0, 4, 0] = (0, 0, 0, 128)  # half black over white: grey 127
    out = to_training_size(rgba, 32)
    assert out.shape == (1, 8, 8, 3)
    assert (out[0, :4] == 255).all()
    assert tuple(out[0, 5, 0]) == (0, 0, 200)
    assert tuple(out[0, 4, 0]) == (127, 127, 127)
    one = _images((3, 8, 8, 1))
    squeezed = to_training_size(one, 32)
    assert squeezed.shape == (3, 8, 8)
    np.testing.assert_array_equal(squeezed, one[..., 0])


def test_chunks_as_a_plain_iterable() -> None:
    images = _images((30, 64, 64))
    out = to_training_size((images[s : s + 8] for s in range(0, 30, 8)), 32)
    assert out.shape == (30, 32, 32)
    np.testing.assert_array_equal(out, to_training_size(images, 32))


def test_refuses_what_is_not_uint8_images() -> None:
    with pytest.raises(ValueError, match="uint8"):
        to_training_size(np.zeros((2, 8, 8), np.float32), 4)
    with pytest.raises(ValueError, match="channels|C in"):
        to_training_size(np.zeros((2, 8, 8, 2), np.uint8), 4)
    with pytest.raises(ValueError, match="0 .* or positive"):
        to_training_size(np.zeros((2, 8, 8), np.uint8), -1)


def test_memory_is_the_output_plus_one_chunk() -> None:
    rows, count = 100, 1000
    images = _images((count, 128, 128, 3))  # 49 MB
    chunks = Chunks(images, rows)  # 4.9 MB a chunk
    out_bytes = count * 32 * 32 * 3
    chunk_bytes = rows * 128 * 128 * 3
    tracemalloc.start()
    try:
        out = to_training_size(chunks, 32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (count, 32, 32, 3)
    assert chunks.reads == count // rows
    # Room for the chunk being converted and the one being read beside the output.
    assert peak < out_bytes + 2 * chunk_bytes + 1_000_000, peak
