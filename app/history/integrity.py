"""``ledgerlab verify``: is everything recorded still what was recorded?

Three checks, in this order, stopping at the first problem: the hash chain of the
log; every blob an event references (dataset, maps, checkpoints, predictions) is
present and matches its hash; every stored projection snapshot equals the read
models rebuilt from zero at its position. One read of the log does the last two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from app.project import snapshots as history_snapshots
from app.project.projections import SNAPSHOT_NAME
from domain.errors import DomainError
from domain.events import EventRegistry
from domain.projections import ProjectProjections, codec
from domain.projections.project import ReadModelClass
from eventstore import BlobCorrupt, BlobNotFound, EventStore, RecordedEvent, Snapshot


@dataclass
class IntegrityReport:
    checked: list[str] = field(default_factory=list)  # one line per check passed
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_project(store: EventStore, registry: EventRegistry, extra_parts: tuple[ReadModelClass, ...] = (),
                   progress: Callable[[int, int], None] | None = None) -> IntegrityReport:
    report = IntegrityReport()
    chain = store.verify()
    if not chain.ok:
        report.problem = f"hash chain broken at position {chain.position}: {chain.problem}"
        return report
    report.checked.append(f"hash chain intact: {chain.checked} events")

    snapshots = _stored_snapshots(store)
    state = ProjectProjections(registry, "project", extra_parts=extra_parts)
    blobs: dict[str, tuple[int, str, str]] = {}  # sha -> (first position, kind, event type)
    snapshot_problem = None
    head = store.head()

    def noting_blobs(events: Iterable[RecordedEvent]) -> Iterator[RecordedEvent]:
        for e in events:
            for sha, kind in registry.blob_references(e.type, e.data):
                blobs.setdefault(sha, (e.position, kind, e.type))
            yield e

    for stop in sorted({s.position for s in snapshots} | {head}):
        try:
            state.apply(noting_blobs(store.read_all(after=state.position, until=stop)))
        except DomainError as exc:
            report.problem = f"the log does not replay at position {state.position + 1}: {exc}"
            return report
        if progress is not None:
            progress(stop, head)
        for snapshot in (s for s in snapshots if s.position == stop):
            difference = _difference(snapshot, state)
            if difference and snapshot_problem is None:
                snapshot_problem = (f"snapshot {snapshot.name!r} at position {snapshot.position} does not "
                                    f"equal the read models rebuilt from the log ({difference}); it is a "
                                    "cache: delete it and it is rebuilt")

    for sha, (position, kind, event_type) in blobs.items():
        try:
            store.get_blob(sha)
        except BlobNotFound:
            report.problem = (f"the {kind} blob {sha[:12]}… referenced at position {position} ({event_type}) "
                              "is missing from the file; restore the project from a backup")
            return report
        except BlobCorrupt:
            report.problem = (f"the {kind} blob {sha[:12]}… referenced at position {position} ({event_type}) "
                              "no longer matches its hash; restore the project from a backup")
            return report
    report.checked.append(f"blobs present and intact: {len(blobs)} referenced")
    if snapshot_problem:
        report.problem = snapshot_problem
        return report
    report.checked.append(f"snapshots equal a rebuild from zero: {len(snapshots)} checked")
    return report


def _stored_snapshots(store: EventStore) -> list[Snapshot]:
    head = store.load_snapshot(SNAPSHOT_NAME)
    return [*([head] if head else []), *history_snapshots.stored(store)]


def _difference(snapshot: Snapshot, state: ProjectProjections) -> str | None:
    """Which read models of ``snapshot`` differ from ``state``; None when all agree."""
    try:
        header, parts = codec.unpack(history_snapshots.payload(snapshot))
    except DomainError:
        return "it is unreadable"
    mine_header, mine = codec.unpack(state.snapshot())
    if header.get("position") != state.position:
        return f"it claims position {header.get('position')}"
    for key in ("event_count", "stream_version"):
        if header.get(key) != mine_header[key]:
            return f"{key.replace('_', ' ')} {header.get(key)} instead of {mine_header[key]}"
    differing = [name for name in parts if name in mine and parts[name].tobytes() != mine[name].tobytes()]
    return f"read models differ: {', '.join(differing)}" if differing else None
