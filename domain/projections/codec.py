"""Snapshot payloads: a small JSON header plus raw numpy arrays.

Raw buffers (not pickles, not zip) so restoring a snapshot is a few
``np.frombuffer`` calls and a snapshot from an untrusted file cannot run code.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from domain.errors import DomainError

MAGIC = b"LLSNAP1\n"


def pack(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    layout = {}
    chunks = []
    offset = 0
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        layout[name] = [arr.dtype.str, list(arr.shape), offset, arr.nbytes]
        chunks.append(arr.tobytes())
        offset += arr.nbytes
    head = json.dumps({"header": header, "arrays": layout}).encode()
    return b"".join([MAGIC, struct.pack("<Q", len(head)), head, *chunks])


def unpack(payload: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    try:
        if not payload.startswith(MAGIC):
            raise ValueError("bad magic")
        (n,) = struct.unpack_from("<Q", payload, len(MAGIC))
        start = len(MAGIC) + 8
        meta = json.loads(payload[start : start + n])
        body = memoryview(payload)[start + n :]
        arrays = {}
        for name, (dtype, shape, offset, nbytes) in meta["arrays"].items():
            arr = np.frombuffer(body[offset : offset + nbytes], dtype=np.dtype(dtype))
            arrays[name] = arr.reshape(shape)
        return meta["header"], arrays
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise DomainError(f"snapshot is unreadable ({exc}); delete it and replay the log") from exc
