"""What a dataset is (``Dataset``) and which pixel arrays are valid images; shared by
every loader (``domain.dataset`` for files, ``domain.image_folder`` for folders)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from domain.errors import DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_CHANNELS = (1, 3, 4)


@dataclass(frozen=True, eq=False)
class Dataset:
    images: np.ndarray
    source: str
    class_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    true_labels: np.ndarray | None = None  # evaluation only, never recorded as labels

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.images.shape)

    def __len__(self) -> int:
        return int(self.images.shape[0])


def validate_images(images: np.ndarray, where: str, first: int = 0) -> np.ndarray:
    """uint8 (N,H,W) or (N,H,W,C): checks shape, dtype, value range and NaNs. ``first``
    is the number of the first image (for a batch of a larger dataset)."""
    a = np.asarray(images)
    if a.ndim not in (3, 4):
        raise DatasetError(
            f"{where}: 'images' has shape {a.shape}; expected N×H×W (grey) or N×H×W×C (colour)"
        )
    if a.shape[0] == 0:
        raise DatasetError(f"{where}: the dataset is empty (0 images); add at least one image")
    if a.shape[1] == 0 or a.shape[2] == 0:
        raise DatasetError(f"{where}: images of size {a.shape[1]}×{a.shape[2]} are empty")
    if a.ndim == 4 and a.shape[3] not in _CHANNELS:
        raise DatasetError(f"{where}: images have {a.shape[3]} channels; use 1 (grey), 3 (RGB) or 4 (RGBA)")
    if a.dtype == np.uint8:
        return a
    if np.issubdtype(a.dtype, np.floating):
        bad = ~np.isfinite(a)
        if bad.any():
            first += int(np.argwhere(bad)[0][0])
            raise DatasetError(f"{where}: image {first} contains NaN or infinite values; fix or drop it")
        low, high = float(a.min()), float(a.max())
        if low < 0.0 or high > 1.0:
            raise DatasetError(
                f"{where}: float pixels range from {low:g} to {high:g}; scale them to [0, 1] "
                "or store uint8 0–255"
            )
        return np.rint(a * 255.0).astype(np.uint8)
    raise DatasetError(f"{where}: pixels are {a.dtype}; store uint8 (0–255) or floats in [0, 1]")


# --- datasets read in batches (bounded memory) --------------------------------------

Batches = Callable[[int], Iterator[np.ndarray]]


@dataclass(frozen=True, eq=False)
class DatasetStream:
    """A dataset read batch by batch, never whole: ``batches(rows)`` yields validated
    uint8 arrays of at most ``rows`` images each, in order, covering all ``shape[0]``
    images (each call starts again from the first image)."""

    shape: tuple[int, ...]
    source: str
    batches: Batches
    class_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def sample_bytes(self) -> int:
        return math.prod(self.shape[1:])


def stream_of(dataset: Dataset) -> DatasetStream:
    """A dataset held in memory, read as batches (views, no copies)."""
    images = dataset.images

    def batches(rows: int) -> Iterator[np.ndarray]:
        for start in range(0, len(images), rows):
            yield images[start : start + rows]

    return DatasetStream(dataset.shape, dataset.source, batches, dataset.class_names, dataset.notes)


def check_shape(shape: tuple[int, ...], where: str) -> None:
    """What ``validate_images`` checks of the shape alone (before any pixel is read)."""
    if len(shape) not in (3, 4):
        raise DatasetError(f"{where}: 'images' has shape {shape}; expected N×H×W (grey) or N×H×W×C (colour)")
    if shape[0] == 0:
        raise DatasetError(f"{where}: the dataset is empty (0 images); add at least one image")
    if shape[1] == 0 or shape[2] == 0:
        raise DatasetError(f"{where}: images of size {shape[1]}×{shape[2]} are empty")
    if len(shape) == 4 and shape[3] not in _CHANNELS:
        raise DatasetError(f"{where}: images have {shape[3]} channels; use 1 (grey), 3 (RGB) or 4 (RGBA)")


def rows_per_chunk(sample_bytes: int, chunk_bytes: int) -> int:
    """How many images a chunk of at most ``chunk_bytes`` holds (at least one)."""
    return max(1, chunk_bytes // max(1, sample_bytes))
