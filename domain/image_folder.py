"""Reading a folder of PNG/JPEG images (Pillow) into a dataset.

Links may point anywhere; only files inside the folder the person chose are
read, so a dataset never silently includes files from elsewhere on the disk.
Top-level subfolder names are offered as class names, never used as labels.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from domain.errors import DatasetError
from domain.images import IMAGE_SUFFIXES, Dataset, DatasetStream, validate_images

if TYPE_CHECKING:
    from PIL import Image

_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def read_folder(folder: Path) -> Dataset:
    stream = stream_folder(folder)
    images = np.concatenate(list(stream.batches(4096)))
    return Dataset(images, source=stream.source, class_names=stream.class_names, notes=stream.notes)


def stream_folder(folder: Path) -> DatasetStream:
    """The folder's images decoded batch by batch. Only the headers are read first (to
    find the size and the kind of every image); pixels are decoded when a batch is read."""
    root = folder.expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder: choose a folder of PNG/JPEG images")
    files = _image_files(root)
    if not files:
        raise DatasetError(
            f"{root} contains no PNG or JPEG images (looked in subfolders too): choose the "
            "folder that holds the images"
        )
    headers = [_header(root, f) for f in files]
    grey = [f for f, (_, g) in zip(files, headers) if g]
    colour = [f for f, (_, g) in zip(files, headers) if not g]
    if grey and colour:
        raise DatasetError(
            f"{root} mixes channel counts: {len(grey)} greyscale images (e.g. "
            f"{_rel(root, grey[0])}) and {len(colour)} colour images (e.g. "
            f"{_rel(root, colour[0])}); convert them all to one kind"
        )
    sizes = Counter(size for size, _ in headers)
    size, _ = sizes.most_common(1)[0]
    notes = []
    odd = [(f, s) for f, (s, _) in zip(files, headers) if s != size]
    if odd:
        first, first_size = odd[0]
        notes.append(
            f"resized {len(odd)} of {len(files)} images to {size[0]}×{size[1]}, the most "
            f"common size (e.g. {_rel(root, first)} was {first_size[0]}×{first_size[1]})"
        )
    shape = (len(files), size[1], size[0]) + (() if grey else (3,))

    def batches(rows: int) -> Iterator[np.ndarray]:
        for start in range(0, len(files), rows):
            arrays = []
            for f in files[start : start + rows]:
                img, _ = _read(root, f)
                arrays.append(np.asarray(img if img.size == size else img.resize(size)))
            yield validate_images(np.stack(arrays), str(root), start)

    classes = sorted({f.relative_to(root).parts[0] for f in files if len(f.relative_to(root).parts) > 1})
    return DatasetStream(
        shape,
        source=f"image folder {root.name} ({len(files)} images)",
        batches=batches,
        class_names=tuple(classes),
        notes=tuple(notes),
    )


def _header(root: Path, path: Path) -> tuple[tuple[int, int], bool]:
    """(width, height) and whether the image is grey, from its header alone."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.size, img.mode in _GREY_MODES
    except Image.DecompressionBombError as exc:
        raise DatasetError(
            f"image {_rel(root, path)} in {root} is too large to read safely (more than "
            f"{2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels); shrink it or remove it from the folder"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DatasetError(
            f"cannot read image {_rel(root, path)} in {root} ({exc}); remove or replace the file"
        ) from exc


def _image_files(root: Path) -> list[Path]:
    real_root = root.resolve()
    found = []
    seen_dirs = set()

    def unreadable(exc: OSError) -> None:  # os.walk skips such folders silently otherwise
        where = Path(exc.filename) if exc.filename else root
        raise DatasetError(
            f"cannot read the folder {where} ({exc.strerror or exc}); check its permissions "
            "(every folder under the one you chose must be readable) or choose another folder"
        )

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        real_dir = Path(dirpath).resolve()
        _check_inside(real_root, real_dir, Path(dirpath), root)
        if real_dir in seen_dirs:  # a link back into the tree: read it once
            dirnames[:] = []
            continue
        seen_dirs.add(real_dir)
        dirnames.sort()
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(IMAGE_SUFFIXES):
                continue
            path = Path(dirpath) / name
            _check_inside(real_root, path.resolve(), path, root)
            found.append(path)
    return found


def _check_inside(real_root: Path, real: Path, shown: Path, root: Path) -> None:
    if real != real_root and real_root not in real.parents:
        raise DatasetError(
            f"{_rel(root, shown)} links to {real}, outside the folder you chose ({root}); "
            "copy the file into the folder or remove the link"
        )


def _read(root: Path, path: Path) -> tuple[Image.Image, bool]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            grey = img.mode in _GREY_MODES
            return img.convert("L" if grey else "RGB"), grey
    except Image.DecompressionBombError as exc:
        raise DatasetError(
            f"image {_rel(root, path)} in {root} is too large to read safely (more than "
            f"{2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels); shrink it or remove it from the folder"
        ) from exc
    except MemoryError as exc:
        raise DatasetError(
            f"image {_rel(root, path)} in {root} is too large for this computer's memory; "
            "shrink it or remove it from the folder"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DatasetError(
            f"cannot read image {_rel(root, path)} in {root} ({exc}); remove or replace the file"
        ) from exc


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
