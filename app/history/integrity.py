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
from domain.event_fields import DamagedEvent, metadata_problem
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


def verify_project(
    store: EventStore,
    registry: EventRegistry,
    extra_parts: tuple[ReadModelClass, ...] = (),
    progress: Callable[[int, int], None] | None = None,
) -> IntegrityReport:
    report = IntegrityReport()
    chain = store.verify()
    if not chain.ok:
        position = chain.position or chain.checked + 1
        report.problem = f"hash chain broken at position {position}: {chain.problem}; {_way_out(position)}"
        return report
    report.checked.append(f"hash chain intact: {chain.checked} events")

    snapshots = _stored_snapshots(store)
    state = ProjectProjections(registry, "project", extra_parts=extra_parts)
    blobs: dict[str, tuple[int, str, str]] = {}  # sha -> (first position, kind, event type)
    snapshot_problem = None
    head = store.head()

    def noting_blobs(events: Iterable[RecordedEvent]) -> Iterator[RecordedEvent]:
        for e in events:
            _check_event(e, registry)
            for sha, kind in registry.blob_references(e.type, e.data, e.schema_version):
                blobs.setdefault(sha, (e.position, kind, e.type))
            yield e

    for stop in sorted({s.position for s in snapshots} | {head}):
        try:
            state.apply(noting_blobs(store.read_all(after=state.position, until=stop)))
        except DamagedEvent as exc:
            position = exc.position or state.position + 1
            report.problem = (
                f"the event at position {position} is damaged ({exc.type_name}: {exc.problem}); "
                f"{_way_out(position)}"
            )
            return report
        except DomainError as exc:
            report.problem = f"the log does not replay at position {state.position + 1}: {exc}"
            return report
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # An intact chain over bytes that do not read back: written so, or by another program.
            report.problem = (
                f"the event at position {state.position + 1} does not replay "
                f"({type(exc).__name__}: {exc}); {_way_out(state.position + 1)}"
            )
            return report
        if progress is not None:
            progress(stop, head)
        for snapshot in (s for s in snapshots if s.position == stop):
            difference = _difference(snapshot, state)
            if difference and snapshot_problem is None:
                snapshot_problem = (
                    f"snapshot {snapshot.name!r} at position {snapshot.position} does not "
                    f"equal the read models rebuilt from the log ({difference}); it is a "
                    "cache: delete it and it is rebuilt"
                )

    for sha, (position, kind, event_type) in blobs.items():
        try:
            store.get_blob(sha)
        except BlobNotFound:
            report.problem = (
                f"the {kind} blob {sha[:12]}… referenced at position {position} ({event_type}) "
                "is missing from the file; restore the project from a backup"
            )
            return report
        except BlobCorrupt:
            report.problem = (
                f"the {kind} blob {sha[:12]}… referenced at position {position} ({event_type}) "
                "no longer matches its hash; restore the project from a backup"
            )
            return report
    report.checked.append(f"blobs present and intact: {len(blobs)} referenced")
    if snapshot_problem:
        report.problem = snapshot_problem
        return report
    report.checked.append(f"snapshots equal a rebuild from zero: {len(snapshots)} checked")
    return report


@dataclass(frozen=True)
class Damage:
    """The first event of a log that is not what was recorded or cannot be read."""

    position: int
    problem: str

    def advice(self, path: str, *, suggest_verify: bool = True) -> str:
        """One sentence: where, what, and the ways out (restore, branch before it)."""
        keep = (
            f"keep the {self.position - 1} events before it with `ledgerlab branch {path} --at "
            f"{self.position - 1} NEW.ledger`"
            if self.position > 1
            else "create the project again"
        )
        check = f"; `ledgerlab verify {path}` checks the whole file" if suggest_verify else ""
        return (
            f"{path}: the event at position {self.position} is damaged ({self.problem}); nothing "
            f"was changed. Restore the file from a backup, or {keep}{check}"
        )


def find_damage(
    store: EventStore, registry: EventRegistry, extra_parts: tuple[ReadModelClass, ...] = ()
) -> Damage | None:
    """The first damaged event: a break in the hash chain, else the first event that
    cannot be decoded or folded into the read models. None when the log is sound.

    For error paths (an unexpected error met while reading a project): it reads the
    whole log, one event at a time."""
    chain = store.verify()
    if not chain.ok:
        return Damage(chain.position or chain.checked + 1, chain.problem or "the hash chain is broken")
    state = ProjectProjections(registry, "project", extra_parts=extra_parts)
    events = store.read_all()
    while True:
        try:
            e = next(events)
        except StopIteration:
            return None
        except (ValueError, TypeError, KeyError) as exc:  # the stored bytes do not decode
            return Damage(state.position + 1, f"its stored bytes no longer decode: {exc}")
        try:
            _check_event(e, registry)
            if e.type in registry:  # types of a newer module are kept, not judged
                registry.decode(e.type, e.schema_version, e.data)
            state.apply([e])
        except DamagedEvent as exc:
            return Damage(e.position, f"{e.type}: {exc.problem}")
        except DomainError as exc:
            return Damage(e.position, f"{e.type}: {exc}")
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            return Damage(e.position, f"{e.type} does not fit the project: {type(exc).__name__}: {exc}")


def _check_event(e: RecordedEvent, registry: EventRegistry) -> None:
    """Raise ``DamagedEvent`` when ``e``'s metadata or data hold the wrong JSON types
    (types of a newer module are kept, not judged)."""
    try:
        problem = metadata_problem(e.metadata)
        if problem is not None:
            raise DamagedEvent(e.type, problem)
        if e.type in registry:
            registry.check(e.type, e.schema_version, e.data)
    except DamagedEvent as exc:
        exc.position = e.position
        raise


def _way_out(position: int) -> str:
    if position <= 1:
        return "restore the file from a backup"
    return (
        f"restore the file from a backup, or keep the {position - 1} events before it with "
        f"`ledgerlab branch PATH --at {position - 1} NEW.ledger`"
    )


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
