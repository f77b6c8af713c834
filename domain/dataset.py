"""Datasets a project can be made from: the embedded MNIST 10k, a ``.npz`` file
or a folder of PNG/JPEG images. Everything is validated here, and each problem
is a ``DatasetError`` naming the file and what to do about it.

Images come out as uint8, (N, H, W) for grey or (N, H, W, C) for colour. Labels
found in a file are never used as labels: the embedded set keeps its true
digits in ``true_labels`` for evaluation only.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from domain.errors import DatasetError
from domain.images import Dataset, validate_images

MNIST_FILE = "mnist10k.npz"


def default_resources_dir() -> Path:
    """Where the shipped data lives (resolved when called, not at import)."""
    return Path(__file__).resolve().parents[1] / "resources"


def load_mnist(resources_dir: Path | None = None) -> Dataset:
    path = (resources_dir or default_resources_dir()) / MNIST_FILE
    if not path.is_file():
        raise DatasetError(
            f"the embedded MNIST set is missing ({path}); reinstall Ledgerlab or choose a "
            "dataset with --dataset"
        )
    arrays = _read_npz(path)
    images = validate_images(arrays["images"], str(path))
    labels = arrays.get("labels")
    return Dataset(
        images,
        source=f"embedded MNIST 10k ({MNIST_FILE})",
        class_names=tuple(str(d) for d in range(10)),
        true_labels=None if labels is None else np.asarray(labels),
    )


def load_dataset(path: str | os.PathLike[str]) -> Dataset:
    """A ``.npz`` file or a folder of images, whichever ``path`` is."""
    p = Path(path).expanduser()
    if p.is_dir():
        return load_image_folder(p)
    if not p.exists():
        raise DatasetError(f"{p} does not exist: give the path of a .npz file or an image folder")
    if p.suffix.lower() != ".npz":
        raise DatasetError(
            f"{p} is neither a .npz file nor a folder: give a .npz file with an 'images' "
            "array or a folder of PNG/JPEG images"
        )
    return load_npz(p)


def load_npz(path: str | os.PathLike[str]) -> Dataset:
    p = Path(path)
    arrays = _read_npz(p)
    images = validate_images(arrays["images"], str(p))
    names: tuple[str, ...] = ()
    if "class_names" in arrays:
        names = tuple(str(n) for n in np.asarray(arrays["class_names"]).ravel())
    notes: tuple[str, ...] = (
        ("the 'labels' array was ignored: labels come only from annotators",) if "labels" in arrays else ()
    )
    if images.dtype != arrays["images"].dtype:
        notes += ("float pixels in [0, 1] were stored as 8-bit (0–255)",)
    return Dataset(images, source=f"npz file {p.name}", class_names=names, notes=notes)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        if not zipfile.is_zipfile(path):
            raise DatasetError(
                f"cannot read {path} as a .npz file (it is not a zip archive); save it with "
                "numpy.savez or choose another file"
            )
        with np.load(path, allow_pickle=False) as npz:
            if "images" not in npz.files:
                found = ", ".join(npz.files) or "no arrays"
                raise DatasetError(
                    f"{path} has no 'images' array (it has {found}); save the pictures "
                    "under the name 'images' (np.savez(path, images=...))"
                )
            return {name: npz[name] for name in npz.files}
    except DatasetError:
        raise
    except ValueError as exc:
        # numpy refuses object arrays without pickles; we never unpickle user files.
        raise DatasetError(
            f"{path} holds arrays of Python objects ({exc}); save plain numeric arrays"
        ) from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(f"cannot read {path} as a .npz file ({exc}); check the file") from exc


def load_image_folder(folder: str | os.PathLike[str]) -> Dataset:
    from domain.image_folder import read_folder  # Pillow only when a folder is used

    return read_folder(Path(folder))
