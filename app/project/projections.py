"""The domain's projections wired to a store: every read model of a project built
from its log, starting from the nearest usable snapshot.

A snapshot is a cache, so a bad one is ignored; the log is the truth.
"""

from __future__ import annotations

import gc

from app.project import snapshots as history_snapshots
from app.project.errors import ProjectError
from domain.errors import DomainError
from domain.events import EventRegistry
from domain.projections import ProjectProjections
from domain.projections.project import ReadModelClass
from eventstore import EventStore

PROJECT_STREAM = "project"
SNAPSHOT_NAME = "projections.v1"
SNAPSHOT_EVERY = 1000  # events folded since the last snapshot before a new one is saved


def build_projections(
    store: EventStore,
    registry: EventRegistry,
    until: int | None = None,
    extra_parts: tuple[ReadModelClass, ...] = (),
    *,
    save_snapshot: bool = False,
) -> ProjectProjections:
    """Every read model at ``until`` (default: the head), starting from the saved
    snapshot when it is usable -- a snapshot is a cache, so a bad one is ignored.
    With ``save_snapshot``, a long replay is saved so the next open starts here."""
    head = store.head()
    if until is not None and not 0 <= until <= head:
        raise ProjectError(
            f"position {until} is outside the log of {store.url.split('://', 1)[-1]}, "
            f"which holds positions 0–{head}; choose one in that range"
        )
    state = None
    target = head if until is None else until
    # The nearer of the head snapshot and the as-of snapshot below the target.
    candidates = [
        s
        for s in (store.load_snapshot(SNAPSHOT_NAME), history_snapshots.nearest(store, target))
        if s is not None and s.position <= target
    ]
    for snapshot in sorted(candidates, key=lambda s: -s.position):
        state = history_snapshots.restore(snapshot, registry, extra_parts)
        if state is not None:
            break
    if state is None:
        state = ProjectProjections(registry, PROJECT_STREAM, extra_parts=extra_parts)
    # Replaying keeps tens of thousands of freshly decoded events alive at once;
    # the cyclic GC would rescan them again and again (about a quarter of the
    # replay time) although they hold no cycles. Paused only for the replay.
    collecting = gc.isenabled()
    gc.disable()
    try:
        replayed = state.apply(store.read_all(after=state.position, until=until))
    except DomainError as exc:
        raise ProjectError(f"{store.url.split('://', 1)[-1]}: {exc}") from exc
    finally:
        if collecting:
            gc.enable()
    if save_snapshot and until is None and replayed >= SNAPSHOT_EVERY:
        store.save_snapshot(SNAPSHOT_NAME, state.position, state.snapshot())
    return state
