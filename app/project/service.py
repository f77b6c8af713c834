"""Opening and creating projects: the application's entry points.

``ProjectService`` holds what every project needs (the event registry, who is
annotating, how to open a store, a clock) and is built once by
``app/bootstrap.py``; the GUI and the CLI both go through it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from app.project.address import ProjectAddress, server_may_append
from app.project.dataset_store import CHUNK_BYTES, Progress, StoredDataset, store_dataset
from app.project.errors import ProjectError
from app.project.live import Project
from app.project.mapper import to_records
from app.project.projections import PROJECT_STREAM, build_projections
from domain import commands as c
from domain.dataset import load_mnist
from domain.decide import decide
from domain.events import EventRegistry, core_registry
from domain.images import Dataset, DatasetStream, stream_of
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
        dataset: Dataset | DatasetStream,
        *,
        name: str | None = None,
        class_names: tuple[str, ...] | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        progress: Progress | None = None,
    ) -> Project:
        """Create a new project (a ``.ledger`` file or a server project) holding
        ``dataset`` (in memory, or a stream read batch by batch), its classes and a first
        map. The dataset is stored in chunks of at most ``chunk_bytes``; memory stays
        bounded by a few chunks. A file is built beside its final name and moved into
        place when complete: an interrupted ``new`` leaves no file under that name."""
        address = ProjectAddress.parse(path)
        address.require_ledger_suffix()
        if address.file is not None and address.file.exists():
            raise ProjectError(f"{address} already exists: open it, or choose another file name")
        stream = dataset if isinstance(dataset, DatasetStream) else stream_of(dataset)
        names = tuple(class_names if class_names is not None else stream.class_names)
        project_name = (name or address.stem).strip() or address.stem
        # Decide before touching the disk: a refused project leaves no file behind.
        decide(ProjectProjections(self.registry, PROJECT_STREAM), _command(project_name, stream, names))
        if address.file is not None:
            with _built_beside(address.file) as building:
                store = self._store_factory(building, create=True)
                with store:
                    self._fill(store, address, stream, project_name, names, chunk_bytes, progress)
            store = self._store_factory(address.store_target(), create=False)
        else:
            # A server project made empty by `ledgerlab server init` is filled, not
            # re-created: an append-only role may not create the schema's tables. A failed
            # fill leaves an empty schema, which `new` may use again.
            exists = self._refuse_existing_server_project(address)
            store = self._store_factory(address.store_target(), create=not exists)
            try:
                self._fill(store, address, stream, project_name, names, chunk_bytes, progress)
            except BaseException:
                store.close()
                raise
        try:
            state = build_projections(store, self.registry, None, self.extra_projections)
        except BaseException:
            store.close()
            raise
        return Project(
            store,
            self.registry,
            state,
            path=address.path,
            address=address,
            annotator=self.annotator,
            clock=self._clock,
        )

    def _fill(
        self,
        store: EventStore,
        address: ProjectAddress,
        stream: DatasetStream,
        project_name: str,
        names: tuple[str, ...],
        chunk_bytes: int,
        progress: Progress | None,
    ) -> None:
        stored = store_dataset(store, stream, chunk_bytes=chunk_bytes, progress=progress)
        map_sha = store.put_blob(stored.map_blob)
        command = _command(project_name, stream, names, stored, map_sha)
        events = decide(ProjectProjections(self.registry, PROJECT_STREAM), command)
        metadata = {"annotator": self.annotator, "at": self._clock(), "command": "CreateProject"}
        try:
            store.append(PROJECT_STREAM, to_records(events, metadata), NO_STREAM)
        except ConcurrencyError:
            raise ProjectError(
                f"{address} was created by another program at the same moment: open it instead"
            ) from None

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


def _command(
    name: str,
    stream: DatasetStream,
    names: tuple[str, ...],
    stored: StoredDataset | None = None,
    map_sha: str = "",
) -> c.CreateProject:
    """The creation command; without ``stored`` a stand-in to decide on before any write."""
    return c.CreateProject(
        name=name,
        dataset_sha256=stored.sha256 if stored else "0" * 64,
        shape=stored.shape if stored else tuple(stream.shape),
        class_names=names,
        source=stream.source,
        map_sha256=map_sha or "0" * 64,
        dataset_chunks=stored.chunks if stored else (),
        chunk_samples=stored.chunk_samples if stored else 0,
        thumbnail_chunks=stored.thumbnails.chunks if stored and stored.thumbnails else (),
        thumbnail_samples=stored.thumbnails.chunk_samples if stored and stored.thumbnails else 0,
        thumbnail_shape=stored.thumbnails.shape if stored and stored.thumbnails else (),
    )


@contextlib.contextmanager
def _built_beside(target: Path) -> Iterator[Path]:
    """A path in a hidden folder beside ``target`` to build the file at; when the block
    ends without error the file is moved to ``target`` (``os.link`` refuses to replace a
    file that appeared meanwhile). The folder is removed in any case; one left by a
    creation that was killed (its process is gone) is removed by the next."""
    _sweep_build_folders(target)
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", dir=target.parent))
    except FileNotFoundError:
        raise ProjectError(
            f"cannot create {target}: the folder {target.parent} does not exist; create it first"
        ) from None
    except OSError as exc:
        raise ProjectError(f"cannot write in {target.parent} ({exc.strerror}); choose another place") from exc
    try:
        building = folder / target.name
        yield building
        try:
            os.link(building, target)
        except FileExistsError:
            raise ProjectError(
                f"{target} was created by another program meanwhile: open it instead"
            ) from None
        for suffix in ("-wal", "-shm"):  # normally gone after close; keep the pair if not
            leftover = Path(f"{building}{suffix}")
            if leftover.exists():
                os.replace(leftover, f"{target}{suffix}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sweep_build_folders(target: Path) -> None:
    """Remove the build folders of ``target`` whose creating process no longer runs."""
    try:
        leftovers = list(target.parent.glob(f".{glob.escape(target.name)}.*.*"))
    except OSError:
        return
    for folder in leftovers:
        pid = folder.name[len(target.name) + 2 :].split(".", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: it runs
        return True
    return True


__all__ = ["DEFAULT_PROJECT_FILE", "ProjectService"]
