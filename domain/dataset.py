"""Datasets a project can be made from: the embedded MNIST 10k, a ``.npz`` file
or a folder of PNG/JPEG images. Everything is validated here, and each problem
is a ``DatasetError`` naming the file and what to do about it.

Images come out as uint8, (N, H, W) for grey or (N, H, W, C) for colour. Labels
found in a file are never used as labels: the embedded set keeps its true
digits in ``true_labels`` for evaluation only.
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from domain.errors import DatasetError
from domain.images import Dataset, DatasetStream, check_shape, validate_images

if TYPE_CHECKING:
    from domain.image_folder import Mapper

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


def open_dataset(path: str | os.PathLike[str], mapper: Mapper | None = None) -> DatasetStream:
    """``load_dataset`` read in batches: a ``.npz`` file or a folder of images, never held
    whole in memory (an uncompressed array is read at its offset in the file, a compressed
    one decompressed batch by batch, a folder decoded batch by batch). A folder's images
    are read through ``mapper`` (``domain.image_folder.Mapper``; default: here, in order)."""
    p = Path(path).expanduser()
    if p.is_dir():
        from domain.image_folder import stream_folder  # Pillow only when a folder is used

        return stream_folder(p, mapper or map)
    if not p.exists():
        raise DatasetError(f"{p} does not exist: give the path of a .npz file or an image folder")
    if p.suffix.lower() != ".npz":
        raise DatasetError(
            f"{p} is neither a .npz file nor a folder: give a .npz file with an 'images' "
            "array or a folder of PNG/JPEG images"
        )
    return stream_npz(p)


def stream_npz(path: str | os.PathLike[str]) -> DatasetStream:
    p = Path(path)
    try:
        if not zipfile.is_zipfile(p):
            raise DatasetError(
                f"cannot read {p} as a .npz file (it is not a zip archive); save it with "
                "numpy.savez or choose another file"
            )
        members = _check_sizes(p)
        if "images" not in members:
            found = ", ".join(members) or "no arrays"
            raise DatasetError(
                f"{p} has no 'images' array (it has {found}); save the pictures "
                "under the name 'images' (np.savez(path, images=...))"
            )
        names: tuple[str, ...] = ()
        if "class_names" in members:
            with np.load(p, allow_pickle=False) as npz:
                names = tuple(str(n) for n in np.asarray(npz["class_names"]).ravel())
    except DatasetError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DatasetError(f"{p} holds arrays of Python objects; save plain numeric arrays") from exc
        raise DatasetError(f"cannot read {p} as a .npz file ({exc}); check the file") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(f"cannot read {p} as a .npz file ({exc}); check the file") from exc
    array = members["images"]
    check_shape(array.shape, str(p))
    notes: tuple[str, ...] = (
        ("the 'labels' array was ignored: labels come only from annotators",) if "labels" in members else ()
    )
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise DatasetError(f"{p}: pixels are {array.dtype}; store uint8 (0–255) or floats in [0, 1]")
        notes += ("float pixels in [0, 1] were stored as 8-bit (0–255)",)

    def batches(rows: int) -> Iterator[np.ndarray]:
        try:
            for first, batch in array.batches(p, rows):
                yield validate_images(batch, str(p), first)
        except (OSError, zipfile.BadZipFile, EOFError, ValueError) as exc:
            raise DatasetError(f"cannot read {p} as a .npz file ({exc}); check the file") from exc

    return DatasetStream(array.shape, f"npz file {p.name}", batches, names, notes)


@dataclass(frozen=True)
class _Member:
    """One array of a .npz: where its data starts and how it is laid out."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype[Any]
    header_end: int  # bytes of the .npy header before the data, inside the member

    def batches(self, path: Path, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        n = self.shape[0] if self.shape else 0
        row_shape = self.shape[1:]
        row_bytes = math.prod(row_shape) * self.dtype.itemsize
        if self.fortran_order:  # no rows to read one by one: the whole array, once
            with np.load(path, allow_pickle=False) as npz:
                whole = npz[self.info.filename[: -len(".npy")]]
            for start in range(0, n, rows):
                yield start, whole[start : start + rows]
            return
        if self.info.compress_type == zipfile.ZIP_STORED:
            # Read straight from the file at the array's offset (no decompression, never the
            # whole): each batch a fresh buffer, so memory holds one batch, where a memory map
            # would keep every page it touched resident.
            offset = _data_offset(path, self.info) + self.header_end
            values = math.prod(row_shape)
            with open(path, "rb") as f:
                for start in range(0, n, rows):
                    count = min(rows, n - start)
                    f.seek(offset + start * row_bytes)
                    batch = np.fromfile(f, self.dtype, count * values)
                    if len(batch) != count * values:
                        raise EOFError(f"the file ends inside image {start + len(batch) // max(1, values)}")
                    yield start, batch.reshape((count, *row_shape))
            return
        with zipfile.ZipFile(path) as archive, archive.open(self.info) as f:
            _read_exactly(f, self.header_end)
            for start in range(0, n, rows):
                count = min(rows, n - start)
                data = _read_exactly(f, count * row_bytes)
                yield start, np.frombuffer(data, self.dtype).reshape((count, *row_shape))


def _data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Where a stored (uncompressed) member's bytes start in the zip file."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise OSError(f"the zip entry of {info.filename} is damaged")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return int(info.header_offset + 30 + name_length + extra_length)


def _read_exactly(f: IO[bytes], count: int) -> bytes:
    parts, missing = [], count
    while missing:
        part = f.read(min(missing, 1 << 24))
        if not part:
            raise EOFError(f"the file ends {missing} bytes early")
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


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
        _check_sizes(path)
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
    except MemoryError as exc:  # sizes are checked first; this is a real shortage
        raise DatasetError(
            f"{path} is too big to load into this computer's memory; use a smaller dataset"
        ) from exc
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            # numpy refuses object arrays without pickles; we never unpickle user files.
            raise DatasetError(f"{path} holds arrays of Python objects; save plain numeric arrays") from exc
        raise DatasetError(f"cannot read {path} as a .npz file ({exc}); check the file") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(f"cannot read {path} as a .npz file ({exc}); check the file") from exc


def _check_sizes(path: Path) -> dict[str, _Member]:
    """Compare each array's header with the bytes stored for it, before numpy
    allocates what the header claims: a damaged or hostile header could claim
    petabytes (MemoryError), a cut-off file less data than its shape. Returns each
    array's layout, by name."""
    members: dict[str, _Member] = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if not member.filename.endswith(".npy"):
                continue
            name = member.filename[: -len(".npy")]
            with archive.open(member) as f:
                try:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                    else:
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                except ValueError as exc:
                    raise DatasetError(
                        f"{path}: the header of array {name!r} is unreadable ({exc}); save the "
                        "file again with numpy.savez"
                    ) from exc
                stored = member.file_size - f.tell()
            if dtype.hasobject:
                raise DatasetError(f"{path}: array {name!r} holds Python objects; save plain numeric arrays")
            claimed = math.prod(shape) * dtype.itemsize
            if claimed > stored:
                raise DatasetError(
                    f"{path}: array {name!r} is incomplete: its header claims shape "
                    f"{tuple(shape)} ({_size(claimed)}) but the file holds {_size(stored)} of data "
                    "(the file was cut off or damaged); save or copy it again"
                )
            members[name] = _Member(member, tuple(shape), bool(fortran), dtype, member.file_size - stored)
    return members


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000:
            break
    return f"{value:,.1f} {unit}"


def load_image_folder(folder: str | os.PathLike[str]) -> Dataset:
    from domain.image_folder import read_folder  # Pillow only when a folder is used

    return read_folder(Path(folder))
