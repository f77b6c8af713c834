"""Reading image files one group at a time: their headers (``read_headers``) and their
pixels (``decode_pixels``), for ``domain.image_folder``.

These are the functions a worker process runs, so this module imports only Pillow (when
first needed) and the standard library: no numpy, nothing else of the domain but its
errors. A task names the folder (a string) and the files relative to it, which keeps
tasks small; pixels come back as raw bytes (uint8, row-major), which a worker hands over
without pickling and the folder reader views as an array.

The plain kinds of file (8-bit grey or RGB PNG, not interlaced; 8-bit JPEG of one or
three components) already of the size and kind wanted are decoded by ``Image.frombytes``
with the very C decoder (and arguments) Pillow's PNG and JPEG readers hand the file's
data to, so the pixels are Pillow's, bit for bit, without its per-file work in Python
(trying formats, parsing every segment into ``info``), which costs as much as the
decoding itself for small images. Anything else, and anything that decoder refuses, is
read by ``Image.open`` as before (whose errors are the ones reported).
"""

from __future__ import annotations

import os
import struct
import zlib

from domain.errors import DatasetError

Header = tuple[tuple[int, int], bool]  # (width, height), grey

GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_GREY_TYPES = {0, 4}  # grey, grey with alpha (2: RGB, 3: palette, 6: RGBA)
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_HEAD_BYTES = 1024  # read at once: a PNG's header and, usually, a JPEG's frame header
_JPEG_SEGMENTS = 64  # segments walked (reading on past _HEAD_BYTES) before asking Pillow
_FORMATS = ("PNG", "JPEG")  # what Pillow tries first (any other format: all it knows)
_PNG_KIND = {"L": 0, "RGB": 2}  # the PNG colour type decoded straight into each mode
_JPEG_LAYERS = {"L": 1, "RGB": 3}  # the JPEG components decoded straight into each mode


def read_headers(task: tuple[str, list[str]]) -> list[Header]:
    """The size and kind of each file of a group (``(folder, names in it)``), from its
    first bytes."""
    root, names = task
    return [_header(root, name) for name in names]


def decode_pixels(task: tuple[str, list[str], tuple[int, int], str]) -> bytes:
    """The pixels of a group of files (``(folder, names in it, size, mode)``), one image
    after the other as uint8 bytes, each converted to ``mode`` ("L" or "RGB") and resized
    to ``size`` (width, height) when it differs."""
    root, names, size, mode = task
    return b"".join([_pixels(root, name, mode, size) for name in names])


def _header(root: str, name: str) -> Header:
    """(width, height) and whether the image is grey, from its header alone: PNG and
    JPEG headers are parsed here (a few bytes), anything else by Pillow."""
    try:
        fd = os.open(os.path.join(root, name), os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            head = os.read(fd, _HEAD_BYTES)
            found = _png_header(head) if head.startswith(_PNG_MAGIC) else _jpeg_header(head, fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise DatasetError(f"cannot read image {name} in {root} ({exc}); remove or replace the file") from exc
    if found is not None:
        from PIL import Image

        (width, height), _ = found
        if Image.MAX_IMAGE_PIXELS is None or width * height <= Image.MAX_IMAGE_PIXELS:
            return found
    return _pillow_header(root, name)  # another format, an odd file, or a huge image


def _png_header(head: bytes) -> Header | None:
    if len(head) < 26 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    if not width or not height:
        return None
    return (width, height), head[25] in _PNG_GREY_TYPES


def _jpeg_header(head: bytes, fd: int) -> Header | None:
    frame = _jpeg_frame(head, fd)
    return None if frame is None else (frame[0], frame[1] == 1)


def _jpeg_frame(head: bytes, fd: int | None = None) -> tuple[tuple[int, int], int, int] | None:
    """(width, height), components and bits per sample from a JPEG's frame header (SOF):
    looked for in ``head`` (the file's first bytes), then, if ``fd`` is the open file,
    segment by segment further on (past a large EXIF block, say)."""
    if not head.startswith(b"\xff\xd8"):
        return None
    at = 2
    for _ in range(_JPEG_SEGMENTS):
        segment = head[at : at + 10]
        if len(segment) < 10 and fd is not None:  # beyond what was read: read there
            os.lseek(fd, at, os.SEEK_SET)
            segment = os.read(fd, 10)
        if len(segment) < 4 or segment[0] != 0xFF:
            return None
        marker = segment[1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header
            return None
        (length,) = struct.unpack(">H", segment[2:4])
        if marker in _JPEG_SOF:
            if len(segment) < 10:
                return None
            height, width = struct.unpack(">HH", segment[5:9])
            components = segment[9]
            if not width or not height or components not in (1, 3, 4):
                return None
            return (width, height), components, segment[4]
        at += 2 + length
    return None


def _pillow_header(root: str, name: str) -> Header:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(os.path.join(root, name)) as img:
            return img.size, img.mode in GREY_MODES
    except Image.DecompressionBombError as exc:
        raise DatasetError(
            f"image {name} in {root} is too large to read safely (more than "
            f"{2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels); shrink it or remove it from the folder"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DatasetError(f"cannot read image {name} in {root} ({exc}); remove or replace the file") from exc


def _pixels(root: str, name: str, mode: str, size: tuple[int, int]) -> bytes:
    from PIL import Image, UnidentifiedImageError

    path = os.path.join(root, name)
    try:
        with open(path, "rb") as f:
            data = f.read()
        pixels = _decoded(data, mode, size)
        if pixels is not None:
            return pixels
        with open(path, "rb") as f:
            try:
                img = Image.open(f, formats=_FORMATS)  # skips asking every other format
            except UnidentifiedImageError:
                img = Image.open(f)
            with img:
                img.load()
                converted = img if img.mode == mode else img.convert(mode)
                return (converted if converted.size == size else converted.resize(size)).tobytes()
    except Image.DecompressionBombError as exc:
        raise DatasetError(
            f"image {name} in {root} is too large to read safely (more than "
            f"{2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels); shrink it or remove it from the folder"
        ) from exc
    except MemoryError as exc:
        raise DatasetError(
            f"image {name} in {root} is too large for this computer's memory; "
            "shrink it or remove it from the folder"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DatasetError(f"cannot read image {name} in {root} ({exc}); remove or replace the file") from exc


def _decoded(data: bytes, mode: str, size: tuple[int, int]) -> bytes | None:
    """The pixels of a plain PNG or JPEG file already of ``mode`` and ``size``, by the C
    decoder alone (see the module's note); None for anything else."""
    from PIL import Image

    if data.startswith(_PNG_MAGIC):
        found = _png_data(data, mode)
        if found is None:
            return None
        (width, height), payload = found
        decoder: tuple[str, ...] = ("zip", mode)  # PngImagePlugin's tile: ("zip", rawmode)
    else:
        frame = _jpeg_frame(data)
        if frame is None or frame[1] != _JPEG_LAYERS.get(mode) or frame[2] != 8:
            return None
        (width, height), payload = frame[0], data
        decoder = ("jpeg", mode, "")  # JpegImagePlugin's tile: ("jpeg", (rawmode, ""))
    if (width, height) != size:
        return None
    if Image.MAX_IMAGE_PIXELS is not None and width * height > Image.MAX_IMAGE_PIXELS:
        return None  # Image.open's warning or refusal applies
    try:
        return Image.frombytes(mode, size, payload, *decoder).tobytes()
    except (ValueError, OSError):  # damaged or unusual: Image.open says what
        return None


def _png_data(data: bytes, mode: str) -> tuple[tuple[int, int], bytes] | None:
    """(width, height) and the compressed pixels (the IDAT chunks) of a PNG that is 8-bit,
    of ``mode``'s colour type, not interlaced, with no transparency chunk or animation,
    and whose chunks before the pixels pass their checksums (as Pillow checks them)."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    width, height, depth, kind, compression, filtering, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if depth != 8 or kind != _PNG_KIND.get(mode) or compression or filtering or interlace:
        return None
    at, idat = 8, []
    while at + 12 <= len(data):
        length, cid = struct.unpack(">I4s", data[at : at + 8])
        end = at + 12 + length
        if end > len(data):
            return None
        if cid == b"IDAT":
            idat.append(data[at + 8 : end - 4])
        elif idat:  # the pixels end where another chunk begins (as Pillow reads them)
            break
        elif cid in (b"tRNS", b"acTL") or zlib.crc32(data[at + 4 : end - 4]) != int.from_bytes(
            data[end - 4 : end], "big"
        ):
            return None
        at = end
    return ((width, height), b"".join(idat)) if idat else None
