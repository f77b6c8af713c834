"""Reading a folder of PNG/JPEG images (Pillow) into a dataset.

Links may point anywhere; only files inside the folder the person chose are
read, so a dataset never silently includes files from elsewhere on the disk.
Top-level subfolder names are offered as class names, never used as labels.

Headers and pixels are read in groups of files by two plain functions
(``read_headers``, ``decode_group``) handed to a *mapper*: the built-in ``map`` reads
them here, one after the other; the application may hand a mapper that runs them in
worker processes (in order, a few groups ahead). Which one runs changes no pixel.
"""

from __future__ import annotations

import math
import os
import struct
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from domain.errors import DatasetError
from domain.images import IMAGE_SUFFIXES, Dataset, DatasetStream, validate_images

Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]]
"""``mapper(function, items)`` yields ``function(item)`` for each item, in order, like the
built-in ``map`` (which is the default). ``function`` is a module-level function and each
item plain data, so a mapper may run them in other processes."""

GROUP = 64
"""Files a worker reads at once: large enough that handing the group over costs little
beside decoding it, small enough that several groups keep every worker busy."""
GROUP_BYTES = 4 * 1024 * 1024
"""Pixels a group holds at most (large images make smaller groups): what a mapper that
reads ahead keeps per group."""

_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_GREY_TYPES = {0, 4}  # grey, grey with alpha (2: RGB, 3: palette, 6: RGBA)
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_HEAD_BYTES = 4096  # where a JPEG's frame header is looked for before asking Pillow

Header = tuple[tuple[int, int], bool]  # (width, height), grey


def read_folder(folder: Path, mapper: Mapper = map) -> Dataset:
    stream = stream_folder(folder, mapper)
    images = np.concatenate(list(stream.batches(4096)))
    return Dataset(images, source=stream.source, class_names=stream.class_names, notes=stream.notes)


def stream_folder(folder: Path, mapper: Mapper = map) -> DatasetStream:
    """The folder's images decoded batch by batch. Only the headers are read first (to
    find the size and the kind of every image); pixels are decoded when a batch is read.
    Both go through ``mapper`` in groups of ``GROUP`` files."""
    root = folder.expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder: choose a folder of PNG/JPEG images")
    files = _image_paths(root)
    if not files:
        raise DatasetError(
            f"{root} contains no PNG or JPEG images (looked in subfolders too): choose the "
            "folder that holds the images"
        )
    groups = ((root, files[i : i + GROUP]) for i in range(0, len(files), GROUP))
    headers = [h for part in mapper(read_headers, groups) for h in part]
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
    mode = "L" if grey else "RGB"

    def batches(rows: int) -> Iterator[np.ndarray]:
        rows = max(1, rows)
        step = min(GROUP, rows, max(1, GROUP_BYTES // math.prod(shape[1:])))
        tasks = (
            (root, files[i : min(i + step, start + rows)], size, mode)
            for start in range(0, len(files), rows)
            for i in range(start, min(start + rows, len(files)), step)
        )
        parts: list[np.ndarray] = []
        held = start = 0
        for part in mapper(decode_group, tasks):
            parts.append(part)
            held += len(part)
            if held == rows or start + held == len(files):
                batch = parts[0] if len(parts) == 1 else np.concatenate(parts)
                yield validate_images(batch, str(root), start)
                parts, start, held = [], start + held, 0

    prefix = len(os.path.join(os.fspath(root), ""))  # every path begins with the folder's
    classes = sorted({f[prefix:].split(os.sep, 1)[0] for f in files if os.sep in f[prefix:]})
    return DatasetStream(
        shape,
        source=f"image folder {root.name} ({len(files)} images)",
        batches=batches,
        class_names=tuple(classes),
        notes=tuple(notes),
    )


def read_headers(task: tuple[Path, list[str]]) -> list[Header]:
    """The size and kind of each file of a group, from its first bytes."""
    root, paths = task
    return [_header(root, path) for path in paths]


def decode_group(task: tuple[Path, list[str], tuple[int, int], str]) -> np.ndarray:
    """The pixels of a group of files as one uint8 array, each image converted to
    ``mode`` ("L" or "RGB") and resized to ``size`` (width, height) when it differs."""
    root, paths, size, mode = task
    out = np.empty((len(paths), size[1], size[0]) + (() if mode == "L" else (3,)), np.uint8)
    for row, path in enumerate(paths):
        out[row] = _pixels(root, path, mode, size)
    return out


def _header(root: Path, path: str) -> Header:
    """(width, height) and whether the image is grey, from its header alone: PNG and
    JPEG headers are parsed here (a few bytes), anything else by Pillow."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError as exc:
        raise DatasetError(
            f"cannot read image {_rel(root, path)} in {root} ({exc}); remove or replace the file"
        ) from exc
    found = _png_header(head) if head.startswith(_PNG_MAGIC) else _jpeg_header(head)
    if found is not None:
        from PIL import Image

        (width, height), _ = found
        if Image.MAX_IMAGE_PIXELS is None or width * height <= Image.MAX_IMAGE_PIXELS:
            return found
    return _pillow_header(root, path)  # another format, an odd file, or a huge image


def _png_header(head: bytes) -> Header | None:
    if len(head) < 26 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    if not width or not height:
        return None
    return (width, height), head[25] in _PNG_GREY_TYPES


def _jpeg_header(head: bytes) -> Header | None:
    """The frame header (SOF) of a JPEG, if it lies within ``head``."""
    if not head.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 4 <= len(head):
        if head[at] != 0xFF:
            return None
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header
            return None
        (length,) = struct.unpack(">H", head[at + 2 : at + 4])
        if marker in _JPEG_SOF:
            if at + 10 > len(head):
                return None
            height, width = struct.unpack(">HH", head[at + 5 : at + 9])
            components = head[at + 9]
            if not width or not height or components not in (1, 3, 4):
                return None
            return (width, height), components == 1
        at += 2 + length
    return None


def _pillow_header(root: Path, path: str) -> Header:
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
    """The folder's images, in the order they are read (subfolders after the files
    beside them, each in name order)."""
    return [Path(p) for p in _image_paths(root)]


def _image_paths(root: Path) -> list[str]:
    """``_image_files`` as strings (cheap for hundreds of thousands of files): one
    ``scandir`` a folder, a file's kind from its directory entry, links resolved only
    where there are links."""
    real_root = root.resolve()
    found: list[str] = []
    seen_dirs = set()

    stack = [os.fspath(root)]
    while stack:
        folder = stack.pop()
        real_dir = Path(folder).resolve()
        _check_inside(real_root, real_dir, Path(folder), root)
        if real_dir in seen_dirs:  # a link back into the tree: read it once
            continue
        seen_dirs.add(real_dir)
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:  # a folder that may not be read is not an empty one
            where = Path(exc.filename) if exc.filename else Path(folder)
            raise DatasetError(
                f"cannot read the folder {where} ({exc.strerror or exc}); check its permissions "
                "(every folder under the one you chose must be readable) or choose another folder"
            ) from exc
        folders = []
        for entry in entries:
            if _is_folder(entry):
                folders.append(entry.path)
                continue
            name = entry.name
            if name.startswith(".") or not name.lower().endswith(IMAGE_SUFFIXES):
                continue
            if entry.is_symlink():  # a plain file lies where its folder does: inside
                _check_inside(real_root, Path(entry.path).resolve(), Path(entry.path), root)
            found.append(entry.path)
        stack.extend(reversed(folders))  # the first subfolder is read next
    return found


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows links, as os.walk(followlinks=True) does
    except OSError:
        return False


def _check_inside(real_root: Path, real: Path, shown: Path, root: Path) -> None:
    if real != real_root and real_root not in real.parents:
        raise DatasetError(
            f"{_rel(root, shown)} links to {real}, outside the folder you chose ({root}); "
            "copy the file into the folder or remove the link"
        )


def _pixels(root: Path, path: str, mode: str, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            converted = img if img.mode == mode else img.convert(mode)
            return np.asarray(converted if converted.size == size else converted.resize(size))
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


def _rel(root: Path, path: Path | str) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)
