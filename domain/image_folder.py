"""Reading a folder of PNG/JPEG images (Pillow) into a dataset.

Links may point anywhere; only files inside the folder the person chose are
read, so a dataset never silently includes files from elsewhere on the disk.
Top-level subfolder names are offered as class names, never used as labels.

Headers and pixels are read in groups of files by two plain functions of
``domain.image_decode`` (``read_headers``, ``decode_pixels``) handed to a *mapper*: the
built-in ``map`` reads them here, one after the other; the application may hand a mapper
that runs them in worker processes (in order, a few groups ahead). Which one runs
changes no pixel. A header costs one small read of the file's first bytes, so the first
pass is cheap beside decoding; a group's pixels arrive as bytes, copied once into their
batch.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from domain.errors import DatasetError
from domain.image_decode import Header, decode_pixels, read_headers
from domain.images import IMAGE_SUFFIXES, Dataset, DatasetStream, validate_images

Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]]
"""``mapper(function, items)`` yields ``function(item)`` for each item, in order, like the
built-in ``map`` (which is the default). ``function`` is a module-level function and each
item plain data, so a mapper may run them in other processes."""

Progress = Callable[[int, int, str], None]
"""``progress(done, total, folder)``: ``done`` images of ``total`` decoded, the last in
the top-level subfolder ``folder`` ("" for images directly in the folder chosen)."""

GROUP = 64
"""Files a worker decodes at once: large enough that handing the group over costs little
beside decoding it, small enough that several groups keep every worker busy (and a
cancellation or the progress bar waits for one group at most)."""
HEADER_GROUP = 256
"""Files whose headers a worker reads at once (a header is a few microseconds): a task of
a few kilobytes, its answer a few more (so no pipe between processes ever fills up)."""
GROUP_BYTES = 4 * 1024 * 1024
"""Pixels a group holds at most (large images make smaller groups): what a mapper that
reads ahead keeps per group."""


def read_folder(folder: Path, mapper: Mapper = map) -> Dataset:
    stream = stream_folder(folder, mapper)
    images = np.concatenate(list(stream.batches(4096)))
    return Dataset(images, source=stream.source, class_names=stream.class_names, notes=stream.notes)


def stream_folder(folder: Path, mapper: Mapper = map, progress: Progress | None = None) -> DatasetStream:
    """The folder's images decoded batch by batch. Only the headers are read first (to
    find the size and the kind of every image); pixels are decoded when a batch is read.
    Both go through ``mapper`` in groups of files; ``progress`` hears of every group
    decoded."""
    root = folder.expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder: choose a folder of PNG/JPEG images")
    files = _image_paths(root)
    if not files:
        raise DatasetError(
            f"{root} contains no PNG or JPEG images (looked in subfolders too): choose the "
            "folder that holds the images"
        )
    prefix = len(os.path.join(os.fspath(root), ""))  # every path begins with the folder's
    where = os.fspath(root)
    names = [f[prefix:] for f in files]  # tasks name files within the folder: small to send
    groups = ((where, names[i : i + HEADER_GROUP]) for i in range(0, len(files), HEADER_GROUP))
    headers: list[Header] = [h for part in mapper(read_headers, groups) for h in part]
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

    def folder_of(name: str) -> str:
        return name.split(os.sep, 1)[0] if os.sep in name else ""

    def batches(rows: int) -> Iterator[np.ndarray]:
        rows = max(1, rows)
        step = min(GROUP, rows, max(1, GROUP_BYTES // math.prod(shape[1:])))
        tasks = (
            (where, names[i : min(i + step, start + rows)], size, mode)
            for start in range(0, len(files), rows)
            for i in range(start, min(start + rows, len(files)), step)
        )
        batch = np.empty((min(rows, len(files)),) + shape[1:], np.uint8)
        held = start = 0
        for pixels in mapper(decode_pixels, tasks):
            part = np.frombuffer(pixels, np.uint8).reshape((-1,) + shape[1:])
            batch[held : held + len(part)] = part
            held += len(part)
            if progress is not None:
                progress(start + held, len(files), folder_of(names[start + held - 1]))
            if held == len(batch) or start + held == len(files):
                yield validate_images(batch[:held], str(root), start)
                start, held = start + held, 0
                batch = np.empty((min(rows, len(files) - start),) + shape[1:], np.uint8)

    classes = sorted({folder_of(name) for name in names} - {""})
    return DatasetStream(
        shape,
        source=f"image folder {root.name} ({len(files)} images)",
        batches=batches,
        class_names=tuple(classes),
        notes=tuple(notes),
    )


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


def _rel(root: Path, path: Path | str) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)
