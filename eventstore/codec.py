"""Encoding of event bodies and the tamper-evident hash chain.

Serialisation is kept apart from storage (as in the eventsourcing library's
transcoder/recorder split) so every backend encodes and chains identically.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from .errors import EventEncodingError

GENESIS = bytes(32)
"""The hash the first event chains from."""

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY


def encode(event_type: str, what: str, value: Any) -> bytes:
    """JSON-encode ``value`` canonically (sorted keys) or say which event could not be."""
    if not isinstance(value, dict):
        raise EventEncodingError(
            f"event {event_type!r}: {what} must be a dict, not {type(value).__name__}; "
            "nothing was written"
        )
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise EventEncodingError(
            f"event {event_type!r}: its {what} cannot be stored as JSON ({exc}); "
            "use numbers, strings, lists and dicts only; nothing was written"
        ) from None


decode = orjson.loads


def chain_hash(
    previous: bytes,
    position: int,
    stream_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    recorded_at: float,
    data: bytes,
    metadata: bytes,
) -> bytes:
    """Hash of one row, chained over the previous row's hash.

    The header is JSON (unambiguous), and the bodies are JSON too, so a NUL byte can
    separate them without any escaping.
    """
    header = orjson.dumps([position, stream_id, version, event_type, schema_version, recorded_at])
    h = hashlib.sha256(previous)
    h.update(header)
    h.update(b"\0")
    h.update(data)
    h.update(b"\0")
    h.update(metadata)
    return h.digest()


def blob_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
