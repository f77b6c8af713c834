"""Branch from here: a new project file holding a project's events up to a position,
the blobs they reference, and a ``ProjectBranched`` event naming its parent. And the
whole-project copies of team mode (``copy_project``: push a file to a server, pull one
back), which keep every event and blob and add nothing.

The branch replays to exactly the parent's state at that position (positions and
stream versions are the same; the hash chain is the branch's own). Runs that were
still training at that position are recorded as interrupted after the copy, so the
branch never looks like it is training. The parent is only read, never written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.history.ledger_files import copy_events, copy_events_at_once, new_ledger
from app.project.address import ProjectAddress
from app.project.errors import ProjectError
from app.project.mapper import to_record
from app.project.projections import PROJECT_STREAM, build_projections
from app.project.service import ProjectService
from domain.events import Event, EventRegistry, ProjectBranched
from domain.projections.project import ReadModelClass
from domain.training_events import TrainingInterrupted, run_stream
from eventstore import EventStore, NewEvent, RecordedEvent


def branch(
    service: ProjectService,
    parent_path: str | os.PathLike[str] | ProjectAddress,
    at: int,
    new_path: str | os.PathLike[str],
) -> Path:
    """``ledgerlab branch PATH|URI --at POSITION NEW``: the parent is opened read-only."""
    parent = ProjectAddress.parse(parent_path)
    with service.open_log(parent, read_only=True) as store:
        return branch_store(
            store,
            service.registry,
            service.extra_projections,
            parent,
            at,
            new_path,
            annotator=service.annotator,
            make_store=service.new_log,
        )


def copy_project(
    service: ProjectService,
    source: str | os.PathLike[str] | ProjectAddress,
    target: str | os.PathLike[str] | ProjectAddress,
) -> tuple[ProjectAddress, int, int]:
    """Copy a whole project -- every event, in order, and every blob they reference -- to
    a new file or a new server project (``ledgerlab push`` / ``pull``). The source is only
    read. Returns (the target, events copied, blobs copied).

    Positions, stream versions, data and metadata are the source's; the hash chain is
    the target's own, so ``verify`` passes on both. A file target appears only when
    complete; a server target is filled by one all-or-nothing append."""
    origin, destination = ProjectAddress.parse(source), ProjectAddress.parse(target)
    with service.open_log(origin, read_only=True) as store:
        head = store.head()
        if head == 0:
            raise ProjectError(f"{origin} holds no events: there is nothing to copy")
        blobs: set[str] = set()

        def noting(events: Iterator[RecordedEvent]) -> Iterator[RecordedEvent]:
            for e in events:
                blobs.update(
                    sha for sha, _ in service.registry.blob_references(e.type, e.data, e.schema_version)
                )
                yield e

        if destination.file is not None:
            with new_ledger(destination.file, service.new_log) as (copy, _):
                copied = copy_events(noting(_with_blobs(store, copy, head, service.registry)), copy)
        else:
            copy = service.new_log(destination)  # refuses a server project that holds events
            with copy:
                copied = copy_events_at_once(noting(_with_blobs(store, copy, head, service.registry)), copy)
    if copied != head:
        raise ProjectError(
            f"{origin} has gaps before position {head} (copied {copied} events); run `ledgerlab verify` on it"
        )
    return destination, copied, len(blobs)


def branch_store(
    parent: EventStore,
    registry: EventRegistry,
    extra_parts: tuple[ReadModelClass, ...],
    parent_path: Path | ProjectAddress,
    at: int,
    new_path: str | os.PathLike[str],
    *,
    annotator: str,
    clock: Callable[[], float] = time.time,
    make_store: Callable[[Path], EventStore] | None = None,
) -> Path:
    head = parent.head()
    if not 1 <= at <= head:
        raise ProjectError(
            f"cannot branch {parent_path} at position {at}: its log holds positions 1–{head}; "
            "choose one in that range (`ledgerlab log` lists them)"
        )
    state = build_projections(parent, registry, until=at, extra_parts=extra_parts)
    if not state.info.created:
        raise ProjectError(
            f"at position {at} of {parent_path} the project is not created yet: choose a later position"
        )
    parent_hash = parent.chain_hash(at) or ""
    with new_ledger(new_path, make_store) as (store, target):
        copied = copy_events(_with_blobs(parent, store, at, registry), store)
        if copied != at:
            raise ProjectError(
                f"{parent_path} has gaps before position {at} (copied {copied} events); "
                "run `ledgerlab verify` on it"
            )
        metadata = {"annotator": annotator, "at": clock(), "command": "Branch"}
        lineage = ProjectBranched(str(parent_path), at, parent_hash, state.info.project_name)
        store.append(PROJECT_STREAM, [_new(lineage, metadata)], state.stream_version)
        training = state.extras.get("training")
        for run in training.running if training is not None else ():
            stream = run_stream(run.run_id)
            store.append(
                stream,
                [_new(TrainingInterrupted(run.run_id, len(run.epochs)), metadata)],
                store.stream_version(stream),
            )
    return target


def _with_blobs(
    parent: EventStore, store: EventStore, until: int, registry: EventRegistry
) -> Iterator[RecordedEvent]:
    """The parent's events up to ``until``, each after the blobs it references are copied."""
    for e in parent.read_all(until=until):
        for sha, _ in registry.blob_references(e.type, e.data, e.schema_version):
            if not store.has_blob(sha):
                store.put_blob(parent.get_blob(sha))  # get_blob re-hashes: no damaged copy
        yield e


def _new(event: Event, metadata: dict[str, Any]) -> NewEvent:
    return to_record(event, metadata)
