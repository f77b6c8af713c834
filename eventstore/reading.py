"""Paged, lazy reading shared by every backend.

Keyset pagination: each page is its own short query that starts after the last key of
the one before, so no reader holds a transaction (SQLite's WAL, PostgreSQL's snapshot)
open while the caller works through millions of events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from .codec import decode
from .model import RecordedEvent

EventRow = tuple[int, str, int, str, int, bytes, bytes, float]
"""position, stream_id, version, type, schema_version, data, metadata, recorded_at"""

FetchPage = Callable[[int, int], Sequence[EventRow]]
"""``fetch(key, size)``: up to ``size`` rows past ``key`` (after it, or before it when
reading backwards), in reading order."""

POSITION, VERSION = 0, 2


def paged(
    fetch: FetchPage, start: int, limit: int | None, key: int, page_size: int
) -> Iterator[RecordedEvent]:
    """Decode the rows ``fetch`` returns page by page; stop after ``limit`` events."""
    new, make, loads = tuple.__new__, RecordedEvent, decode
    remaining = limit
    cursor = start
    while True:
        size = page_size if remaining is None else min(page_size, remaining)
        if size <= 0:
            return
        rows = fetch(cursor, size)
        for p, s, v, t, sv, d, m, r in rows:
            yield new(make, (p, s, v, t, sv, loads(d), loads(m), r))
        if len(rows) < size:
            return
        if remaining is not None:
            remaining -= len(rows)
        cursor = int(rows[-1][key])
