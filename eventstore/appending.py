"""An append, from the caller's entries to the rows a backend writes.

Two halves, because of the write lock: ``prepare`` validates and encodes before the lock
is taken (a bad event costs no one any waiting), ``build_rows`` checks expected versions
and chains the hashes under it, from the head the backend just read. Every backend uses
both, so they accept, refuse and chain exactly alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .codec import Encoded, StoredRow, chain_rows, encode_batch
from .errors import StoreError
from .model import ExpectedVersion, NewEvent, StreamAppend
from .validation import check_event, check_expected, check_expected_form


@dataclass(frozen=True, slots=True)
class PreparedAppend:
    """One entry of an append, validated and encoded, not yet placed in the log."""

    stream_id: str
    expected: ExpectedVersion
    encoded: list[Encoded]


def prepare(appends: Sequence[StreamAppend]) -> list[PreparedAppend]:
    """Validate and encode every entry; entries without events are dropped."""
    if isinstance(appends, (str, bytes)) or not isinstance(appends, Sequence):
        raise StoreError(
            "append_batch takes a list of (stream_id, events, expected_version) entries, "
            f"not {type(appends).__name__}"
        )
    prepared = []
    for entry in appends:
        if not isinstance(entry, tuple) or len(entry) != 3:
            raise StoreError(
                "each append_batch entry is a (stream_id, events, expected_version) tuple, "
                f"not {entry!r:.80}"
            )
        stream_id, events, expected = entry
        if not isinstance(stream_id, str) or not stream_id:
            raise StoreError(f"stream id must be a non-empty string, not {stream_id!r}")
        check_expected_form(expected)
        if not events:
            continue
        for event in events:
            if type(event) is not NewEvent:  # the common case costs one comparison
                check_event(event)
            elif type(event.schema_version) is not int or not event.type or event.schema_version < 1:
                check_event(event)
        prepared.append(PreparedAppend(stream_id, expected, encode_batch(events)))
    return prepared


def stream_ids(prepared: Sequence[PreparedAppend]) -> list[str]:
    """The distinct streams an append touches, in first-seen order."""
    return list(dict.fromkeys(p.stream_id for p in prepared))


def build_rows(
    prepared: Sequence[PreparedAppend],
    versions: Mapping[str, int],
    head: int,
    previous: bytes,
    recorded_at: float,
) -> list[StoredRow]:
    """The rows to insert after ``head`` (whose hash is ``previous``).

    ``versions`` are the streams' current versions as read under the write lock (missing
    means 0). Raises ``ConcurrencyError`` for the first entry whose expected version does
    not hold; nothing has been written then.
    """
    current = dict(versions)
    rows: list[StoredRow] = []
    position = head
    for entry in prepared:
        version = current.get(entry.stream_id, 0)
        check_expected(entry.stream_id, entry.expected, version)
        previous = chain_rows(
            rows, previous, position, entry.stream_id, version, entry.encoded, recorded_at
        )
        position += len(entry.encoded)
        current[entry.stream_id] = version + len(entry.encoded)
    return rows
