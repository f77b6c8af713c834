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

from app.project.errors import ProjectError
from app.project.live import Project
from app.project.mapper import to_records
from app.project.projections import PROJECT_STREAM, build_projections
from domain import commands as c
from domain.dataset import load_mnist
from domain.images import Dataset
from domain.decide import decide
from domain.events import EventRegistry, core_registry
from domain.initial_map import encode_map, pca_map
from domain.projections import ProjectProjections
from domain.projections.project import ReadModelClass
from eventstore import (
    NO_STREAM,
    ConcurrencyError,
    EventStore,
    StoreError,
    open_store,
)

DEFAULT_PROJECT_FILE = "mnist10k.ledger"
SUFFIX = ".ledger"

StoreFactory = Callable[..., EventStore]


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

    def open(self, path: str | os.PathLike[str], *, as_of: int | None = None) -> Project:
        """Open an existing project; with ``as_of`` a read-only view at that position."""
        store = self._store_factory(_path(path), create=False, read_only=as_of is not None)
        try:
            state = build_projections(
                store, self.registry, as_of, self.extra_projections, save_snapshot=as_of is None
            )
            if not state.info.created and (as_of is None or store.head() == 0):
                raise ProjectError(
                    f"{_path(path)} holds no project (no ProjectCreated event; its creation was "
                    "probably interrupted): delete it and create it again with `ledgerlab new`"
                )
            project = Project(
                store, self.registry, state, path=_path(path), annotator=self.annotator,
                clock=self._clock, read_only=as_of is not None,
            )
            return project
        except BaseException:
            store.close()
            raise

    def open_log(self, path: str | os.PathLike[str], *, read_only: bool = True) -> EventStore:
        """The project's event store itself, for whole-log work (verify, branch, export)."""
        return self._store_factory(_path(path), create=False, read_only=read_only)

    def new_log(self, path: str | os.PathLike[str]) -> EventStore:
        """A new, empty event store at ``path`` (the caller fills it and closes it)."""
        return self._store_factory(_path(path), create=True)

    def create(
        self,
        path: str | os.PathLike[str],
        dataset: Dataset,
        *,
        name: str | None = None,
        class_names: tuple[str, ...] | None = None,
    ) -> Project:
        """Create a new ``.ledger`` file holding ``dataset``, its classes and a first map."""
        target = _path(path)
        if target.suffix != SUFFIX:
            raise ProjectError(f"{target}: project files end in {SUFFIX}; use {target.name}{SUFFIX}")
        if target.exists():
            raise ProjectError(f"{target} already exists: open it, or choose another file name")
        data = _encode_images(dataset.images)
        map_blob = encode_map(pca_map(dataset.images))
        command = c.CreateProject(
            name=(name or target.stem).strip() or target.stem,
            dataset_sha256=hashlib.sha256(data).hexdigest(),
            shape=dataset.shape,
            class_names=tuple(class_names if class_names is not None else dataset.class_names),
            source=dataset.source,
            map_sha256=hashlib.sha256(map_blob).hexdigest(),
        )
        # Decide before touching the disk: a refused project leaves no file behind.
        events = decide(ProjectProjections(self.registry, PROJECT_STREAM), command)
        store = self._store_factory(target, create=True)
        try:
            store.put_blob(data)
            store.put_blob(map_blob)
            metadata = {"annotator": self.annotator, "at": self._clock(), "command": "CreateProject"}
            batch = to_records(events, metadata)
            try:
                store.append(PROJECT_STREAM, batch, NO_STREAM)
            except ConcurrencyError:
                raise ProjectError(
                    f"{target} was created by another program at the same moment: open it instead"
                ) from None
        except BaseException:
            empty = _is_empty(store)
            store.close()
            if empty:  # we made this file and nothing was recorded in it: leave no debris
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{target}{suffix}").unlink(missing_ok=True)
            raise
        state = build_projections(store, self.registry, None, self.extra_projections)
        return Project(
            store, self.registry, state, path=target, annotator=self.annotator, clock=self._clock
        )

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


def _path(path: str | os.PathLike[str]) -> Path:
    text = os.fspath(path)
    if not text:
        raise ProjectError("no project path given: name a .ledger file")
    return Path(text).expanduser().absolute()


__all__ = ["DEFAULT_PROJECT_FILE", "ProjectService"]
