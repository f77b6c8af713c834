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


def encode_batch(events) -> list[tuple[str, int, bytes, bytes]]:
    """Encode ``(type, schema_version, data, metadata)`` for a whole batch.

    The fast path is one comprehension (a JSON object always starts with ``{``, which is
    how it checks for dicts); only when it fails is the batch encoded again event by
    event, to name the culprit in the error.
    """
    dumps, options = orjson.dumps, _OPTIONS
    try:
        encoded = [
            (e.type, e.schema_version, dumps(e.data, option=options), dumps(e.metadata, option=options))
            for e in events
        ]
    except (TypeError, orjson.JSONEncodeError):
        encoded = None
    if encoded is None or not all(d[:1] == b"{" and m[:1] == b"{" for _, _, d, m in encoded):
        return [
            (e.type, e.schema_version, encode(e.type, "data", e.data), encode(e.type, "metadata", e.metadata))
            for e in events
        ]
    return encoded


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
    return hashlib.sha256(b"".join((previous, header, b"\0", data, b"\0", metadata))).digest()


def blob_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
