"""What a dataset is (``Dataset``) and which pixel arrays are valid images; shared by
every loader (``domain.dataset`` for files, ``domain.image_folder`` for folders)."""

from __future__ import annotations

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


def validate_images(images: np.ndarray, where: str) -> np.ndarray:
    """uint8 (N,H,W) or (N,H,W,C): checks shape, dtype, value range and NaNs."""
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
            first = int(np.argwhere(bad)[0][0])
            raise DatasetError(f"{where}: image {first} contains NaN or infinite values; fix or drop it")
        low, high = float(a.min()), float(a.max())
        if low < 0.0 or high > 1.0:
            raise DatasetError(
                f"{where}: float pixels range from {low:g} to {high:g}; scale them to [0, 1] "
                "or store uint8 0–255"
            )
        return np.rint(a * 255.0).astype(np.uint8)
    raise DatasetError(f"{where}: pixels are {a.dtype}; store uint8 (0–255) or floats in [0, 1]")
