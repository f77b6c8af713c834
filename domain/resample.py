"""Images brought to a training resolution: the longest side at most ``size`` pixels,
aspect kept, never enlarged, resampled deterministically with Pillow.

``to_training_size`` takes uint8 images, N×H×W (grey) or N×H×W×C with C in 1, 3, 4,
as one array or as chunks (an iterable of such arrays, or a reader with ``shape`` and
``iter_chunks()`` such as the project's lazily read dataset), and gives N×h×w (grey)
or N×h×w×3 (colour) uint8: one channel is grey, RGBA is composited over white. Images
already within ``size`` (or ``size`` 0) come back with the very same values, so a run
recorded before the training size existed trains again bit for bit.

Shrinking averages the pixels each output pixel covers (Pillow's ``reduce`` for a
whole-number factor: each block's mean, rounded; ``resize`` with the BOX filter
otherwise): no ringing, values stay in range, and the same input gives the same bytes
every time (with the same Pillow). Pillow, image by image, was faster here than numpy
over whole chunks (0.06 against 0.18 ms a 64×64 colour image, halved).
Memory: the output plus one chunk (a 16 MB slice of an array given whole).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

_SLICE_BYTES = 16 * 1024 * 1024  # pixels converted at once when one whole array is given


@runtime_checkable
class ChunkedImages(Protocol):
    """Images read a chunk at a time (e.g. ``app.project.dataset_store.DatasetImages``)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def iter_chunks(self) -> Iterator[np.ndarray]: ...


Images = np.ndarray | ChunkedImages | Iterable[np.ndarray]


def target_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(h, w) of an image of ``height``×``width`` shrunk so its longest side is ``size``
    (aspect kept, rounded, at least 1); the image's own size when it already fits or
    ``size`` is 0."""
    if size < 0:
        raise ValueError(f"the training size must be 0 (the images' own size) or positive, not {size}")
    longest = max(height, width)
    if size == 0 or longest <= size:
        return height, width

    def scaled(side: int) -> int:  # side * size / longest, rounded half up, in integers
        return max(1, (2 * side * size + longest) // (2 * longest))

    return scaled(height), scaled(width)


def output_shape(shape: tuple[int, ...], size: int) -> tuple[int, ...]:
    """The shape ``to_training_size`` gives for images of ``shape``."""
    _check_shape(shape)
    h, w = target_size(int(shape[1]), int(shape[2]), size)
    colour = len(shape) == 4 and shape[3] != 1
    return (int(shape[0]), h, w, 3) if colour else (int(shape[0]), h, w)


def to_training_size(images: Images, size: int) -> np.ndarray:
    """``images`` at the training resolution ``size`` (see the module's docstring)."""
    if isinstance(images, np.ndarray):
        return _whole(images, size)
    if isinstance(images, ChunkedImages):
        shape = tuple(int(d) for d in images.shape)
        if _unchanged(shape, size):
            return _as_is(np.asarray(images))
        return _fill(np.empty(output_shape(shape, size), np.uint8), images.iter_chunks(), size)
    parts = [shrink(chunk, size) for chunk in images]  # no count known: parts, then joined
    if not parts:
        raise ValueError("no images were given")
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def shrink(chunk: np.ndarray, size: int) -> np.ndarray:
    """One chunk of images at ``size`` (a new array, or ``chunk`` itself when unchanged)."""
    chunk = _as_is(chunk)
    h, w = target_size(chunk.shape[1], chunk.shape[2], size)
    if (h, w) == chunk.shape[1:3]:
        return chunk
    out = np.empty((len(chunk), h, w, *chunk.shape[3:]), np.uint8)
    factor = (chunk.shape[2] // w, chunk.shape[1] // h)
    whole = factor[0] * w == chunk.shape[2] and factor[1] * h == chunk.shape[1]
    for i, image in enumerate(chunk):
        picture = Image.fromarray(np.ascontiguousarray(image))
        small = picture.reduce(factor) if whole else picture.resize((w, h), Image.Resampling.BOX)
        out[i] = np.asarray(small)
    return out


def _whole(images: np.ndarray, size: int) -> np.ndarray:
    shape = tuple(int(d) for d in images.shape)
    if _unchanged(shape, size):
        return _as_is(images)
    out = np.empty(output_shape(shape, size), np.uint8)
    rows = max(1, _SLICE_BYTES // max(1, images[0].size))
    return _fill(out, (images[s : s + rows] for s in range(0, len(images), rows)), size)


def _fill(out: np.ndarray, chunks: Iterable[np.ndarray], size: int) -> np.ndarray:
    done = 0
    for chunk in chunks:
        small = shrink(chunk, size)
        if done + len(small) > len(out) or small.shape[1:] != out.shape[1:]:
            raise ValueError(
                f"a chunk of shape {chunk.shape} does not belong to images of shape {out.shape} "
                "(after resampling)"
            )
        out[done : done + len(small)] = small
        done += len(small)
    if done != len(out):
        raise ValueError(f"{done} images were read where {len(out)} were announced")
    return out


def _unchanged(shape: tuple[int, ...], size: int) -> bool:
    _check_shape(shape)
    return target_size(shape[1], shape[2], size) == shape[1:3] and (len(shape) == 3 or shape[3] != 4)


def _check_shape(shape: tuple[int, ...]) -> None:
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] not in (1, 3, 4)):
        raise ValueError(f"images of shape {shape}: expected N×H×W (grey) or N×H×W×C with C in 1, 3, 4")


def _as_is(chunk: np.ndarray) -> np.ndarray:
    """``chunk`` checked, grey as N×H×W, RGBA composited over white (no copy otherwise)."""
    if chunk.dtype != np.uint8:
        raise ValueError(f"images must be uint8, not {chunk.dtype}")
    _check_shape(tuple(chunk.shape))
    if chunk.ndim == 4 and chunk.shape[3] == 1:
        return chunk[..., 0]
    if chunk.ndim == 4 and chunk.shape[3] == 4:
        return over_white(chunk)
    return chunk


def over_white(rgba: np.ndarray) -> np.ndarray:
    """RGBA (uint8, …×4) composited over white: RGB uint8, rounded to nearest."""
    alpha = rgba[..., 3:4].astype(np.uint16)
    rgb = rgba[..., :3].astype(np.uint16)
    # rgb·a + 255·(255 − a) ≤ 255·255, so uint16 holds every sum.
    return ((rgb * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
