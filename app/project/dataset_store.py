"""A project's dataset in the store: content-addressed chunks, written from a stream
with bounded memory and read back one chunk at a time.

Each chunk is a .npy array (uint8) of ``chunk_samples`` consecutive images (the last may
hold fewer), at most ``CHUNK_BYTES`` (16 MB) of pixels, stored as a blob; ``ProjectCreated``
lists them (``dataset_chunks``). ``dataset_sha256`` names the content: the sha256 of the
whole dataset as one .npy array, so a dataset of one chunk is stored exactly as projects
before chunks stored theirs (one blob), and both read through ``DatasetImages``.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.project.errors import ProjectError
from app.project.projections import PROJECT_STREAM
from domain.events import EventRegistry, ProjectCreated
from domain.images import DatasetStream, rows_per_chunk
from domain.initial_map import encode_map
from domain.resample import output_shape, shrink
from domain.streaming_map import StreamingMap
from eventstore import BlobCorrupt, BlobNotFound, EventStore

THUMBNAIL_PX = 128
"""Images with a side longer than this get a thumbnail (longest side this) for display."""
THUMBNAIL_CHUNK_BYTES = 4 * 1024 * 1024
"""Thumbnail chunks are smaller than dataset chunks: reading the one a hovered sample is
in (and checking its hash) takes a few milliseconds."""
THUMBNAIL_CACHE_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 16 * 1024 * 1024
"""Pixels per chunk at most: far below SQLite's 1 GB per blob; small enough that reading
(and hash-checking) the chunk of one image takes well under 0.1 s, large enough that a
million images make only a few dozen blobs."""
CACHE_BYTES = 64 * 1024 * 1024
"""Chunks a reader keeps (at least one): four full chunks."""
_ROWS = 4096  # images converted to float at once while mapping
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stage "storing" then "mapping", counted in images."""


@dataclass(frozen=True)
class StoredThumbnails:
    """Display thumbnails as ``store_dataset`` wrote them."""

    shape: tuple[int, ...]
    chunks: tuple[str, ...]
    chunk_samples: int


@dataclass(frozen=True)
class StoredDataset:
    """What ``store_dataset`` wrote: the content hash, the chunks, the first map, and
    the thumbnails (None: the images are small enough to show themselves)."""

    sha256: str
    shape: tuple[int, ...]
    chunks: tuple[str, ...]
    chunk_samples: int
    map_blob: bytes
    thumbnails: StoredThumbnails | None = None


class _ChunkWriter:
    """Images gathered into chunks of ``rows`` and stored as blobs as they fill."""

    def __init__(self, store: EventStore, rows: int) -> None:
        self.store, self.rows = store, rows
        self.chunks: list[str] = []
        self._pending: list[np.ndarray] = []
        self._held = 0

    def add(self, images: np.ndarray) -> None:
        while len(images):
            take = images[: self.rows - self._held]
            self._pending.append(take)
            self._held += len(take)
            images = images[len(take) :]
            if self._held == self.rows:
                self.flush()

    def flush(self) -> None:
        if self._held:
            pending = self._pending
            data = pending[0] if len(pending) == 1 else np.concatenate(pending)
            self.chunks.append(self.store.put_blob(_npy(np.ascontiguousarray(data))))
            self._pending, self._held = [], 0


def store_dataset(
    store: EventStore,
    stream: DatasetStream,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    progress: Progress | None = None,
) -> StoredDataset:
    """Write ``stream`` as chunks to ``store`` and compute its first map (PCA fitted on a
    subsample) in a second pass over the stored chunks. Memory: a few chunks."""
    shape = tuple(int(d) for d in stream.shape)
    if len(shape) == 4 and shape[3] == 1:  # one channel is grey: stored N×H×W
        shape = shape[:3]
    count = shape[0]
    rows = rows_per_chunk(stream.sample_bytes, chunk_bytes)
    whole = hashlib.sha256(_npy_header(shape))
    mapping = StreamingMap(count, stream.sample_bytes)
    chunks: list[str] = []
    thumbnail_shape = output_shape(shape, THUMBNAIL_PX) if max(shape[1:3]) > THUMBNAIL_PX else None
    thumbnails = None
    if thumbnail_shape is not None:
        thumbnails = _ChunkWriter(
            store, rows_per_chunk(math.prod(thumbnail_shape[1:]), THUMBNAIL_CHUNK_BYTES)
        )
    done = 0
    for chunk in _rechunked(stream.batches(rows), rows):
        if chunk.ndim == 4 and chunk.shape[3] == 1 and len(shape) == 3:
            chunk = chunk[..., 0]
        if chunk.shape[1:] != shape[1:]:
            raise ProjectError(
                f"{stream.source}: image {done} has shape {chunk.shape[1:]} where {shape[1:]} was "
                "expected; give images of one size"
            )
        data = np.ascontiguousarray(chunk, dtype=np.uint8)
        whole.update(data.data)
        chunks.append(store.put_blob(_npy(data)))
        if thumbnails is not None:
            thumbnails.add(shrink(data, THUMBNAIL_PX))
        mapping.add(done, data)
        done += len(data)
        if progress is not None:
            progress("storing", done, count)
    if done != count:
        raise ProjectError(f"{stream.source}: {done} images were read where {count} were announced")
    mapping.fit()
    done = 0
    for sha in chunks:
        chunk = decode_chunk(store.get_blob(sha))
        for start in range(0, len(chunk), _ROWS):
            mapping.project(done + start, chunk[start : start + _ROWS])
        done += len(chunk)
        if progress is not None:
            progress("mapping", done, count)
    stored_thumbnails = None
    if thumbnails is not None and thumbnail_shape is not None:
        thumbnails.flush()
        stored_thumbnails = StoredThumbnails(
            thumbnail_shape, tuple(thumbnails.chunks), min(thumbnails.rows, count)
        )
    return StoredDataset(
        whole.hexdigest(),
        shape,
        tuple(chunks),
        min(rows, count),
        encode_map(mapping.coordinates()),
        stored_thumbnails,
    )


def _rechunked(batches: Iterator[np.ndarray], rows: int) -> Iterator[np.ndarray]:
    """Batches regrouped into arrays of exactly ``rows`` images (the last: the rest)."""
    pending: list[np.ndarray] = []
    held = 0
    for batch in batches:
        while len(batch):
            take = batch[: rows - held]
            pending.append(take)
            held += len(take)
            batch = batch[len(take) :]
            if held == rows:
                yield pending[0] if len(pending) == 1 else np.concatenate(pending)
                pending, held = [], 0
    if held:
        yield pending[0] if len(pending) == 1 else np.concatenate(pending)


def _npy_header(shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
        "fortran_order": False,
        "shape": shape,
    }
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def _npy(data: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, data, allow_pickle=False)
    return buffer.getvalue()


def decode_chunk(blob: bytes) -> np.ndarray:
    """A stored chunk as a read-only uint8 array over the blob's bytes (no copy)."""
    f = io.BytesIO(blob)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    if fortran or dtype.hasobject:  # never written so; read it the slow, general way
        array: np.ndarray = np.load(io.BytesIO(blob), allow_pickle=False)
        return array
    return np.frombuffer(blob, dtype, math.prod(shape), f.tell()).reshape(shape)


# --- reading ----------------------------------------------------------------------------


def created_event(store: EventStore, registry: EventRegistry, until: int | None = None) -> ProjectCreated:
    """The project's ``ProjectCreated`` (the first event of its stream), upcast."""
    for e in store.read_stream(PROJECT_STREAM, limit=1):
        if until is None or e.position <= until:
            event = registry.decode(e.type, e.schema_version, e.data)
            if isinstance(event, ProjectCreated):
                return event
    raise ProjectError(f"{store.url} holds no project (no ProjectCreated event)")


class DatasetImages:
    """The dataset (uint8, N×H×W or N×H×W×C) read lazily: indexing one image reads only
    the chunk that holds it (a few chunks stay cached); ``np.asarray`` (or ``array()``)
    reads every chunk once into one array, kept for later calls."""

    def __init__(
        self,
        read_blob: Callable[[str], bytes],
        created: ProjectCreated,
        *,
        cache_bytes: int = CACHE_BYTES,
        read_range: Callable[[str, int, int], bytes] | None = None,
    ) -> None:
        self._read_blob = read_blob
        # The store's ranged read (EventStore.read_blob_range), for one image alone.
        self._read_range = read_range
        self._data_starts: dict[int, int | None] = {}  # chunk -> offset of its pixels
        self.shape = tuple(int(d) for d in created.shape)
        self.chunks = tuple(created.dataset_chunks)
        self.chunk_samples = max(1, int(created.chunk_samples) or self.shape[0])
        self.dtype = np.dtype(np.uint8)
        chunk_bytes = self.chunk_samples * math.prod(self.shape[1:])
        self._cache_chunks = max(1, cache_bytes // max(1, chunk_bytes))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._whole: np.ndarray | None = None
        self.thumbnail_chunks = tuple(created.thumbnail_chunks)
        self.thumbnail_shape = tuple(int(d) for d in created.thumbnail_shape)
        self.thumbnail_samples = max(1, int(created.thumbnail_samples))
        self._thumbnails: OrderedDict[int, np.ndarray] = OrderedDict()
        thumbnail_bytes = self.thumbnail_samples * math.prod(self.thumbnail_shape[1:])
        self._thumbnail_chunks_kept = max(1, THUMBNAIL_CACHE_BYTES // max(1, thumbnail_bytes))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int | np.integer):
            index = int(key)
            if index < 0:
                index += len(self)
            if not 0 <= index < len(self):
                raise IndexError(f"image {key} is out of range: the dataset holds {len(self)}")
            if self._whole is not None:
                return self._whole[index]
            number, offset = divmod(index, self.chunk_samples)
            return self.chunk(number)[offset]
        return self.array()[key]

    def chunk(self, number: int) -> np.ndarray:
        """Chunk ``number`` (read-only), from the cache or the store."""
        cached = self._cache.get(number)
        if cached is not None:
            self._cache.move_to_end(number)
            return cached
        chunk = self._read(number)
        self._cache[number] = chunk
        while len(self._cache) > self._cache_chunks:
            self._cache.popitem(last=False)
        return chunk

    def display(self, index: int) -> np.ndarray:
        """Image ``index`` as the window shows it: its stored thumbnail (longest side
        ``THUMBNAIL_PX``), or the image itself when it is small enough to have none.
        Reads at most one thumbnail chunk (a few MB); recently read ones stay cached."""
        index = int(index)
        if not self.thumbnail_chunks:
            return self._one_image(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"image {index} is out of range: the dataset holds {len(self)}")
        number, offset = divmod(index, self.thumbnail_samples)
        chunk = self._thumbnails.get(number)
        if chunk is None:
            try:
                chunk = decode_chunk(self._read_blob(self.thumbnail_chunks[number]))
            except (BlobNotFound, BlobCorrupt):
                # Thumbnails only spare reading the image: show the image itself (a copy
                # made by a release that knew no thumbnails lacks them; `verify` says so).
                return self[index]
            expected = min(self.thumbnail_samples, len(self) - number * self.thumbnail_samples)
            if chunk.shape != (expected, *self.thumbnail_shape[1:]) or chunk.dtype != np.uint8:
                raise ProjectError(
                    f"thumbnail chunk {number + 1} of {len(self.thumbnail_chunks)} holds {chunk.dtype} "
                    f"{chunk.shape} where uint8 {(expected, *self.thumbnail_shape[1:])} was recorded; "
                    "run `ledgerlab verify`"
                )
            self._thumbnails[number] = chunk
            while len(self._thumbnails) > self._thumbnail_chunks_kept:
                self._thumbnails.popitem(last=False)
        else:
            self._thumbnails.move_to_end(number)
        return chunk[offset]

    def _one_image(self, index: int) -> np.ndarray:
        """Image ``index`` without its chunk when that is not in memory: a few kB through
        the ranged read instead of 16 MB read and hashed (a hover over 100,000 colour
        images of 64×64 took 46 ms that way, 0.3 ms this way). Unchecked against the
        chunk's hash, which `verify` and every whole read check; anything unexpected in
        the chunk's header falls back to the whole read, which says what is wrong."""
        if self._whole is not None or self._read_range is None or not -len(self) <= index < len(self):
            return self[index]  # (its IndexError when out of range)
        index %= len(self)
        number, offset = divmod(index, self.chunk_samples)
        cached = self._cache.get(number)
        start = None if cached is not None else self._data_start(number)
        if start is None:
            return self[index]
        size = math.prod(self.shape[1:])
        data = self._read_range(self.chunks[number], start + offset * size, size)
        if len(data) != size:
            return self[index]
        return np.frombuffer(data, np.uint8).reshape(self.shape[1:])

    def _data_start(self, number: int) -> int | None:
        """Where chunk ``number``'s pixels start (after its .npy header), or None when its
        header is not the one `store_dataset` writes for it."""
        if number not in self._data_starts and self._read_range is not None:
            sha = self.chunks[number]
            head = self._read_range(sha, 0, 12)
            start = None
            if len(head) == 12 and head[:6] == b"\x93NUMPY" and head[6] in (1, 2, 3):
                length = int.from_bytes(head[8:10] if head[6] == 1 else head[8:12], "little")
                prefix = 10 if head[6] == 1 else 12
                header = io.BytesIO(self._read_range(sha, 0, prefix + length))
                try:
                    version = np.lib.format.read_magic(header)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, fortran, dtype = read_header(header)
                except ValueError:
                    shape, fortran, dtype = (), True, np.dtype(object)
                expected = (min(self.chunk_samples, len(self) - number * self.chunk_samples), *self.shape[1:])
                if tuple(shape) == expected and not fortran and dtype == np.uint8:
                    start = prefix + length
            self._data_starts[number] = start
        return self._data_starts.get(number)

    def _read(self, number: int) -> np.ndarray:
        chunk = decode_chunk(self._read_blob(self.chunks[number]))
        expected = min(self.chunk_samples, len(self) - number * self.chunk_samples)
        if chunk.shape != (expected, *self.shape[1:]) or chunk.dtype != np.uint8:
            raise ProjectError(
                f"dataset chunk {number + 1} of {len(self.chunks)} holds {chunk.dtype} {chunk.shape} "
                f"where uint8 {(expected, *self.shape[1:])} was recorded; run `ledgerlab verify`"
            )
        return chunk

    def iter_chunks(self) -> Iterator[np.ndarray]:
        """Every chunk in order (read-only), one at a time: a pass over the dataset that
        holds one chunk, not the whole (the cache is used but not filled)."""
        if self._whole is not None:
            for start in range(0, len(self), self.chunk_samples):
                yield self._whole[start : start + self.chunk_samples]
            return
        for number in range(len(self.chunks)):
            cached = self._cache.get(number)
            yield cached if cached is not None else self._read(number)

    def array(self) -> np.ndarray:
        """Every image in one array (read once, then kept)."""
        if self._whole is None:
            if len(self.chunks) == 1:
                self._whole = self.chunk(0)
            else:
                whole = np.empty(self.shape, np.uint8)
                for number in range(len(self.chunks)):
                    start = number * self.chunk_samples
                    part = self._cache.get(number)
                    whole[start : start + self.chunk_samples] = (
                        part if part is not None else self._read(number)
                    )
                self._whole = whole
            self._cache.clear()
        return self._whole

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self.array()
        if dtype is not None and np.dtype(dtype) != whole.dtype:
            return whole.astype(dtype)
        return whole.copy() if copy else whole
