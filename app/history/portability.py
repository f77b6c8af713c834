"""Moving a project's history between files: its blobs beside an event export
(``ledgerlab export --events OUT.jsonl --blobs DIR``), and a new project file from
such an export (``ledgerlab import-events OUT.jsonl NEW.ledger --blobs DIR``).

The imported file holds the same events (positions, streams, versions, types, data,
metadata) and blobs, so every read model equals the original's; its hash chain is
a new one, computed as the events are appended, and verifies on its own.

An export carries each event's chain hash; an import first recomputes the chain over
the whole file and refuses one that was edited (or carries no hashes) unless the
person asks for it to become new history (``as_new_history``), which the first
event's metadata then records.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import orjson

from app.history.export import event_hash
from app.history.integrity import find_damage
from app.history.ledger_files import copy_events, new_ledger
from app.project.errors import ProjectError
from app.project.projections import build_projections
from app.project.service import ProjectService
from domain.errors import DomainError
from domain.events import EventRegistry
from eventstore import ConcurrencyError, RecordedEvent, StoreError
from eventstore.codec import GENESIS

_FIELDS = RecordedEvent._fields


def export_blobs(
    events: Iterable[RecordedEvent],
    registry: EventRegistry,
    read_blob: Callable[[str], bytes],
    folder: str | os.PathLike[str],
) -> int:
    """Write every blob the events reference to ``folder/<sha256>``; returns how many."""
    target = Path(folder).expanduser()
    if not target.parent.is_dir():
        raise ProjectError(f"cannot write blobs to {target}: the folder {target.parent} does not exist")
    try:
        target.mkdir(exist_ok=True)
    except OSError as exc:
        raise ProjectError(f"cannot create {target} ({exc.strerror}); choose another place") from exc
    if not target.is_dir():
        raise ProjectError(f"{target} is not a folder: give --blobs a folder")
    written: set[str] = set()
    for e in events:
        for sha, _ in registry.blob_references(e.type, e.data, e.schema_version):
            if sha in written:
                continue
            written.add(sha)
            path = target / sha
            if not path.exists():
                _write_atomically(path, read_blob(sha))
    return len(written)


NEW_HISTORY = "imported_as_new_history"
"""Metadata key of the first event of a file imported from an unverified export."""


def import_events(
    service: ProjectService,
    events_file: str | os.PathLike[str],
    new_path: str | os.PathLike[str],
    blobs: str | os.PathLike[str] | None = None,
    *,
    as_new_history: bool = False,
) -> tuple[Path, int, int]:
    """Create ``new_path`` from an event export; returns (path, events, blobs).
    An export whose hashes do not chain is refused unless ``as_new_history``."""
    source = Path(events_file).expanduser()
    if not source.is_file():
        raise ProjectError(
            f"no event export at {source}: give the .jsonl file `ledgerlab export --events` wrote"
        )
    folder = Path(blobs).expanduser() if blobs is not None else None
    if folder is not None and not folder.is_dir():
        raise ProjectError(
            f"the blobs folder {folder} does not exist: give the folder "
            "`ledgerlab export --events OUT.jsonl --blobs DIR` wrote"
        )
    unverified = unverified_line(source)
    if unverified is not None and not as_new_history:
        raise ProjectError(
            f"{source}: {unverified}; nothing was imported. Export the project again, or "
            "import these events as they are now with --as-new-history (the new file "
            "records that its history was not verified)"
        )
    needed: dict[str, int] = {}
    with new_ledger(new_path, service.new_log) as (store, target):

        def events() -> Iterator[RecordedEvent]:
            for number, (e, _) in enumerate(_read(source), 1):
                if e.position != number:
                    raise ProjectError(
                        f"{source} line {number}: position {e.position} where {number} was "
                        "expected; the export is incomplete or reordered"
                    )
                for sha, _ in service.registry.blob_references(e.type, e.data, e.schema_version):
                    if sha not in needed:
                        needed[sha] = e.position
                        store.put_blob(_blob(folder, sha, e.position))
                if number == 1 and as_new_history:
                    mark = {"source": source.name, "unverified": unverified}
                    e = e._replace(metadata={**e.metadata, NEW_HISTORY: mark})
                yield e

        try:
            count = copy_events(events(), store)
        except ConcurrencyError as exc:
            raise ProjectError(
                f"{source}: the stream versions do not follow each other ({exc}); "
                "the export is incomplete or was edited"
            ) from None
        if not count:
            raise ProjectError(f"{source} holds no events: it is not a project's log; nothing was created")
        try:
            state = build_projections(store, service.registry, extra_parts=service.extra_projections)
        except (DomainError, ProjectError) as exc:
            raise ProjectError(
                f"{source} does not replay into a project: {exc}; nothing was created"
            ) from None
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            # e.g. a label event naming a sample the dataset does not have
            damage = find_damage(store, service.registry, service.extra_projections)
            where = f"the event at position {damage.position} ({damage.problem})" if damage else "an event"
            raise ProjectError(
                f"{source} does not replay into a project: {where} does not fit "
                "the events before it; nothing was created"
            ) from None
        if not state.info.created:
            raise ProjectError(f"{source} holds no ProjectCreated event: it is not a whole project's log")
    return target, count, len(needed)


def unverified_line(source: Path) -> str | None:
    """Why the export's hash chain does not hold (naming the first line concerned), or
    None when every line's hash chains over the one before it."""
    previous = GENESIS
    for number, (e, claimed) in enumerate(_read(source), 1):
        if claimed is None:
            return (
                f"line {number} carries no hash (the export was written by an older Ledgerlab "
                "or by hand), so it cannot be checked"
            )
        try:
            previous = event_hash(previous, e)
        except StoreError as exc:
            return f"line {number} cannot be hashed ({exc})"
        if previous.hex() != claimed:
            return (
                f"line {number} (position {e.position}, {e.type}) does not match its hash: the "
                "export was edited or damaged after it was written"
            )
    return None


def _read(source: Path) -> Iterator[tuple[RecordedEvent, str | None]]:
    with source.open("rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                fields = orjson.loads(line)
                event = RecordedEvent(*(fields[name] for name in _FIELDS))
                claimed = fields.get("hash")
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise ProjectError(
                    f"{source} line {number} is not an exported event ({exc}); "
                    "give a file written by `ledgerlab export --events`"
                ) from None
            yield event, claimed if isinstance(claimed, str) else None


def _blob(folder: Path | None, sha: str, position: int) -> bytes:
    if folder is None:
        raise ProjectError(
            f"the events reference blobs (the first at position {position}): give "
            "--blobs DIR, the folder `ledgerlab export --events OUT.jsonl --blobs DIR` wrote"
        )
    path = folder / sha
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProjectError(
            f"blob {sha[:12]}… (referenced at position {position}) is missing from {folder}; "
            "export the blobs again"
        ) from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise ProjectError(f"{path} does not match its hash: the file is damaged; export the blobs again")
    return data


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
