"""Making a new ``.ledger`` file from a copy of events: never over an existing file,
never half-made under its final name.

The file is built in a hidden folder beside the target and moved into place only
when complete and closed; ``os.link`` refuses to replace a file that appeared in the
meantime. Nothing here ``open()``s a ledger: SQLite alone touches the file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from app.project.errors import ProjectError
from eventstore import EventStore, RecordedEvent, open_store

SUFFIX = ".ledger"


def checked_target(path: str | os.PathLike[str]) -> Path:
    """A path for a new project file, or a ProjectError that says what to change."""
    text = os.fspath(path)
    if not text:
        raise ProjectError("no path given for the new project: name a .ledger file")
    target = Path(text).expanduser().absolute()
    if target.suffix != SUFFIX:
        raise ProjectError(f"{target}: project files end in {SUFFIX}; use {target.name}{SUFFIX}")
    if target.exists():
        raise ProjectError(f"{target} already exists: choose another file name (nothing was changed)")
    if not target.parent.is_dir():
        raise ProjectError(
            f"cannot create {target}: the folder {target.parent} does not exist; create it first"
        )
    return target


@contextlib.contextmanager
def new_ledger(
    path: str | os.PathLike[str], make_store: Callable[[Path], EventStore] | None = None
) -> Iterator[tuple[EventStore, Path]]:
    """Yield (an empty store, the final path); on success the file appears at the path.
    ``make_store(path)`` creates the store (default: ``open_store(path, create=True)``)."""
    target = checked_target(path)
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise ProjectError(f"cannot write in {target.parent} ({exc.strerror}); choose another place") from exc
    try:
        building = folder / target.name
        store = make_store(building) if make_store else open_store(building, create=True)
        try:
            yield store, target
        finally:
            store.close()  # the last connection checkpoints the WAL into the file
        try:
            os.link(building, target)
        except FileExistsError:
            raise ProjectError(
                f"{target} was created by another program meanwhile: nothing was written to it"
            ) from None
        except OSError as exc:
            raise ProjectError(f"cannot create {target} ({exc.strerror}); choose another place") from exc
        for suffix in ("-wal", "-shm"):  # normally gone after close; keep the pair if not
            leftover = Path(f"{building}{suffix}")
            if leftover.exists():
                os.replace(leftover, f"{target}{suffix}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_events(source_events: Iterable[RecordedEvent], target: EventStore, batch: int = 10_000) -> int:
    """Append recorded events to ``target`` in order, stream by stream, keeping their
    types, schema versions, data and metadata; returns the target's head.

    Positions and stream versions come out equal to the source's when the source is
    a gap-free log from position 1 and the target starts empty; the hash chain and
    ``recorded_at`` are the target's own (it is a new chain of the same events)."""
    from eventstore import NewEvent

    pending: list[NewEvent] = []
    stream: str | None = None
    first_version = 0
    head = target.head()

    def flush() -> int:
        if not pending:
            return head
        assert stream is not None  # set with the first pending event
        return target.append(stream, pending, first_version - 1)

    for e in source_events:
        if e.stream_id != stream or len(pending) >= batch:
            head = flush()
            pending, stream, first_version = [], e.stream_id, e.version
        pending.append(NewEvent(e.type, e.data, e.metadata, e.schema_version))
    return flush()


def copy_events_at_once(source_events: Iterable[RecordedEvent], target: EventStore) -> int:
    """``copy_events`` as one all-or-nothing ``append_batch``: for a target that cannot be
    built aside and moved into place (a server project), so a failed copy leaves it empty
    (and so usable again), never half-filled. Returns the target's head."""
    from eventstore import NewEvent, StreamAppend

    appends: list[StreamAppend] = []
    pending: list[NewEvent] = []
    for e in source_events:
        if not appends or appends[-1][0] != e.stream_id:
            pending = []
            appends.append((e.stream_id, pending, e.version - 1))
        pending.append(NewEvent(e.type, e.data, e.metadata, e.schema_version))
    return target.append_batch(appends) if appends else target.head()
