"""An append, from the caller's entries to the rows a backend writes.

Two halves, because of the write lock: ``prepare`` validates and encodes before the lock
is taken (a bad event costs no one any waiting), ``build_runs`` checks expected versions
and chains the hashes under it, from the head the backend just read. Every backend uses
both, so they accept, refuse and chain exactly alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .codec import Encoded, Run, chain_run, encode_batch
from .errors import ConcurrencyError, StoreError
from .model import ExpectedVersion, NewEvent, StreamAppend
from .validation import check_event, check_expected, check_expected_form


@dataclass(frozen=True, slots=True)
class PreparedAppend:
    """One entry of an append, validated and encoded, not yet placed in the log."""

    stream_id: str
    expected: ExpectedVersion
    encoded: Encoded


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
                f"each append_batch entry is a (stream_id, events, expected_version) tuple, not {entry!r:.80}"
            )
        stream_id, events, expected = entry
        if not isinstance(stream_id, str) or not stream_id:
            raise StoreError(f"stream id must be a non-empty string, not {stream_id!r}")
        check_expected_form(expected)
        if not events:
            continue
        plain = True  # every body a plain dict: the encoder need not look at its output
        for event in events:
            if type(event) is not NewEvent:  # the common case costs a few comparisons
                check_event(event)
            elif (
                type(event.type) is not str
                or not event.type
                or type(event.schema_version) is not int
                or event.schema_version < 1
            ):
                check_event(event)
            if type(event.data) is not dict or type(event.metadata) is not dict:
                plain = False
        prepared.append(PreparedAppend(stream_id, expected, encode_batch(events, plain)))
    return prepared


def stream_ids(prepared: Sequence[PreparedAppend]) -> list[str]:
    """The distinct streams an append touches, in first-seen order."""
    return list(dict.fromkeys(p.stream_id for p in prepared))


def build_runs(
    prepared: Sequence[PreparedAppend],
    versions: Mapping[str, int],
    head: int,
    previous: bytes,
    recorded_at: float,
) -> list[Run]:
    """The runs of rows to insert after ``head`` (whose hash is ``previous``), one per entry.

    ``versions`` are the streams' current versions as read under the write lock (missing
    means 0). Raises ``ConcurrencyError`` for the first entry whose expected version does
    not hold; nothing has been written then.
    """
    current = dict(versions)
    runs: list[Run] = []
    position = head
    for entry in prepared:
        version = current.get(entry.stream_id, 0)
        check_expected(entry.stream_id, entry.expected, version)
        run = chain_run(previous, position, entry.stream_id, version, entry.encoded, recorded_at)
        runs.append(run)
        previous = run.hashes[-1]
        position += len(run)
        current[entry.stream_id] = version + len(run)
    return runs


def build_group(
    group: Sequence[Sequence[PreparedAppend]],
    versions: Mapping[str, int],
    head: int,
    previous: bytes,
    recorded_at: float,
) -> tuple[list[Run], list[int | ConcurrencyError]]:
    """The runs of several appends committed together, each append checked on its own.

    An append whose expected version does not hold gets its ``ConcurrencyError`` as its
    outcome and contributes no row; the others chain on as if it had not been made.
    """
    current = dict(versions)
    runs: list[Run] = []
    outcomes: list[int | ConcurrencyError] = []
    for prepared in group:
        try:
            mine = build_runs(prepared, current, head, previous, recorded_at)
        except ConcurrencyError as exc:
            outcomes.append(exc)
            continue
        for run in mine:
            current[run.stream_id] = run.version + len(run) - 1
        last = mine[-1]
        head, previous = last.position + len(last) - 1, last.hashes[-1]
        runs.extend(mine)
        outcomes.append(head)
    return runs, outcomes
