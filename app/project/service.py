"""Opening and creating projects: the application's entry points.

``ProjectService`` holds what every project needs (the event registry, who is
annotating, how to open a store, a clock) and is built once by
``app/bootstrap.py``; the GUI and the CLI both go through it.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.project.address import ProjectAddress, server_may_append
from app.project.errors import ProjectError
from app.project.live import Project
from app.project.mapper import to_records
from app.project.projections import PROJECT_STREAM, build_projections
from domain import commands as c
from domain.dataset import load_mnist
from domain.decide import decide
from domain.events import EventRegistry, core_registry
from domain.images import Dataset
from domain.initial_map import encode_map, pca_map
from domain.projections import ProjectProjections
from domain.projections.project import ReadModelClass
from eventstore import (
    NO_STREAM,
    ConcurrencyError,
    EventStore,
    StoreError,
    StoreNotFound,
    open_store,
)

DEFAULT_PROJECT_FILE = "mnist10k.ledger"
SUFFIX = ".ledger"

StoreFactory = Callable[..., EventStore]
Where = str | os.PathLike[str] | ProjectAddress


class ProjectService:
    def __init__(
        self,
        *,
        annotator: str,
        registry: EventRegistry | None = None,
        store_factory: StoreFactory = open_store,
        clock: Callable[[], float] = time.time,
        resources_dir: Path | None = None,
        extra_projections: tuple[ReadModelClass, ...] = (),
    ) -> None:
        if not annotator or not annotator.strip():
            raise ProjectError("the annotator name is empty: give a name with --annotator")
        self.annotator = annotator.strip()
        self.registry = registry or core_registry()
        self._store_factory = store_factory
        self._clock = clock
        self.resources_dir = resources_dir
        # Read models of other modules (e.g. training runs), folded with the core ones.
        self.extra_projections = tuple(extra_projections)

    # --- opening ------------------------------------------------------------------

    def open(self, path: Where, *, as_of: int | None = None) -> Project:
        """Open an existing project; with ``as_of`` a read-only view at that position.

        A server project whose database role may only read opens as a live view: it
        follows everyone's changes, and a change is refused with a one-line reason."""
        address = ProjectAddress.parse(path)
        may_change = as_of is None and (not address.is_server or server_may_append(address))
        store = self._store_factory(
            address.store_target(), create=False, read_only=as_of is not None or not may_change
        )
        try:
            state = build_projections(
                store,
                self.registry,
                as_of,
                self.extra_projections,
                save_snapshot=as_of is None and may_change,
            )
            if not state.info.created and (as_of is None or store.head() == 0):
                raise ProjectError(
                    f"{address} holds no project (no ProjectCreated event; its creation was "
                    "probably interrupted): delete it and create it again with `ledgerlab new`"
                )
            project = Project(
                store,
                self.registry,
                state,
                path=address.path,
                address=address,
                annotator=self.annotator,
                clock=self._clock,
                read_only=as_of is not None,
                may_change=may_change,
            )
            return project
        except BaseException:
            store.close()
            raise

    def open_log(self, path: Where, *, read_only: bool = True) -> EventStore:
        """The project's event store itself, for whole-log work (verify, branch, export)."""
        return self._store_factory(
            ProjectAddress.parse(path).store_target(), create=False, read_only=read_only
        )

    def new_log(self, path: Where) -> EventStore:
        """A new, empty event store at ``path`` (the caller fills it and closes it).
        A server project may already exist as an empty schema (an earlier attempt that
        recorded nothing); one holding events is refused."""
        address = ProjectAddress.parse(path)
        if address.is_server and self._refuse_existing_server_project(address):
            return self._store_factory(address.store_target(), create=False)
        store = self._store_factory(address.store_target(), create=True)
        if address.is_server and not _is_empty(store):
            store.close()
            raise ProjectError(
                f"{address} already holds a project: open it, or choose another ?project= name "
                "(nothing was changed)"
            )
        return store

    def create(
        self,
        path: Where,
        dataset: Dataset,
        *,
        name: str | None = None,
        class_names: tuple[str, ...] | None = None,
    ) -> Project:
        """Create a new project (a ``.ledger`` file or a server project) holding
        ``dataset``, its classes and a first map."""
        address = ProjectAddress.parse(path)
        address.require_ledger_suffix()
        if address.file is not None and address.file.exists():
            raise ProjectError(f"{address} already exists: open it, or choose another file name")
        # A server project made empty by `ledgerlab server init` is filled, not re-created:
        # an append-only role may not create the schema's tables.
        exists = address.is_server and self._refuse_existing_server_project(address)
        data = _encode_images(dataset.images)
        map_blob = encode_map(pca_map(dataset.images))
        command = c.CreateProject(
            name=(name or address.stem).strip() or address.stem,
            dataset_sha256=hashlib.sha256(data).hexdigest(),
            shape=dataset.shape,
            class_names=tuple(class_names if class_names is not None else dataset.class_names),
            source=dataset.source,
            map_sha256=hashlib.sha256(map_blob).hexdigest(),
        )
        # Decide before touching the disk: a refused project leaves no file behind.
        events = decide(ProjectProjections(self.registry, PROJECT_STREAM), command)
        store = self._store_factory(address.store_target(), create=not exists)
        try:
            store.put_blob(data)
            store.put_blob(map_blob)
            metadata = {"annotator": self.annotator, "at": self._clock(), "command": "CreateProject"}
            batch = to_records(events, metadata)
            try:
                store.append(PROJECT_STREAM, batch, NO_STREAM)
            except ConcurrencyError:
                raise ProjectError(
                    f"{address} was created by another program at the same moment: open it instead"
                ) from None
        except BaseException:
            empty = _is_empty(store)
            store.close()
            if empty and address.file is not None:  # we made this file and nothing was recorded in it
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{address.file}{suffix}").unlink(missing_ok=True)
            # An empty server project stays as an empty schema; `new` may use it again.
            raise
        state = build_projections(store, self.registry, None, self.extra_projections)
        return Project(
            store,
            self.registry,
            state,
            path=address.path,
            address=address,
            annotator=self.annotator,
            clock=self._clock,
        )

    def _refuse_existing_server_project(self, address: ProjectAddress) -> bool:
        """Whether the (empty) server project exists; a ProjectError when it holds events."""
        try:
            store = self._store_factory(address.store_target(), create=False, read_only=True)
        except StoreNotFound:
            return False
        with store:
            if not _is_empty(store):
                raise ProjectError(f"{address} already exists: open it, or choose another ?project= name")
        return True

    def open_or_create_default(self, data_dir: str | os.PathLike[str]) -> Project:
        """The embedded MNIST project in ``data_dir``, created on first use."""
        folder = Path(data_dir).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(
                f"cannot create the data folder {folder} ({exc.strerror}); check its permissions"
            ) from exc
        target = folder / DEFAULT_PROJECT_FILE
        if target.exists():
            return self.open(target)
        try:
            return self.create(target, load_mnist(self.resources_dir), name="MNIST 10k")
        except ProjectError:
            if target.exists():  # another window created it a moment ago
                return self.open(target)
            raise


def _is_empty(store: EventStore) -> bool:
    try:
        return store.head() == 0
    except StoreError:
        return False


def _encode_images(images: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(images), allow_pickle=False)
    return buffer.getvalue()


__all__ = ["DEFAULT_PROJECT_FILE", "ProjectService"]
