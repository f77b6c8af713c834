"""Glue between the application services and the window: opens and creates projects
and exports off the GUI thread, gives each project its training service, and routes
every error to one place that shows the person a message."""

from __future__ import annotations

import contextlib
import ctypes
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtWidgets import QProgressDialog

from app.project.address import ProjectAddress
from app.project.errors import ProjectError
from app.ui.background import BackgroundJob
from app.ui.live_follow import LiveFollower
from app.ui.main_window import MainWindow
from app.ui.menus import Menus, RecentProjects
from domain.errors import DomainError
from eventstore import StoreError
from eventstore.urls import redact_any

EXPECTED_ERRORS = (ProjectError, StoreError, DomainError, OSError, ValueError)
PROGRESS_AFTER_MS = 400  # imports quicker than this show no dialog
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
LARGE_BLOCK_BYTES = 8 * 2**20  # blocks this large are the system's, handed back on free


class Session(QObject):
    def __init__(self, app, settings: QSettings | None = None, training_factory=None) -> None:
        super().__init__()
        hand_large_blocks_back()
        self.app = app
        self.settings = settings if settings is not None else QSettings()
        self.training_factory = training_factory  # project -> TrainingService, or None
        self.recent = RecentProjects(self.settings)
        self.window = MainWindow(self.settings)
        self.window.problem.connect(self.report)
        self.menus = Menus(self.window, self)
        self.window.history_panel.branch_requested.connect(self.menus.branch_from_here)
        self.project: Any = None
        self.training = None
        self.progress_dialog: QProgressDialog | None = None
        self._jobs: list[BackgroundJob] = []
        self._project_jobs: list[BackgroundJob] = []  # jobs that read the open project
        self.follower: LiveFollower | None = None  # follows the open project's log live
        self._follower_lost = self._refresh_failed = False  # why the window says "unreachable"

    # --- opening and creating -----------------------------------------------------------

    def last_project(self) -> Path | ProjectAddress | None:
        """The most recent project that still exists, or a server project (None: use the
        default one)."""
        return self.recent.last_existing()

    def open(self, path: Path | str | ProjectAddress | None) -> BackgroundJob:
        """Open ``path`` (a ``.ledger`` file, or a server project's address or URL), or
        create/open the default MNIST project, in the background."""
        service, data_dir = self.app.projects, self.app.settings.data_dir
        what = shown(path) if path else "the default MNIST project"
        self.window.show_busy(f"Opening {what}…")

        preload = getattr(self.training_factory, "preload", None)

        def open_project(cancelled):
            yield "opening"
            project = service.open(path) if path else service.open_or_create_default(data_dir)
            if preload is not None:
                # The training service's imports, so the window does not wait for them. If
                # they fail, the factory reports it when the window asks for the service.
                with contextlib.suppress(ImportError):
                    preload()
            return project

        return self._run(open_project, f"Cannot open {what}", self._opened)

    def create(self, target: Path, kind: str, source: Path | None = None) -> BackgroundJob:
        """Create ``target`` from the embedded MNIST set ("mnist"), a .npz file ("npz") or
        an image folder ("folder"), with a progress dialog that can cancel it."""
        from app.ui.new_project_job import new_project_job, show_progress

        # Streamed as `ledgerlab new` does: a folder decoded by worker processes, the
        # dataset stored chunk by chunk; progress in the dialog, Cancel leaves no file.
        create_project = new_project_job(
            self.app.projects, target, kind, source, self.app.settings.resources_dir
        )

        dialog = QProgressDialog(f"Creating {target.name}…", "Cancel", 0, 0, self.window)
        dialog.setObjectName("importProgress")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(PROGRESS_AFTER_MS)

        def created(project) -> None:
            dialog.reset()  # stops its show-after-a-while timer
            dialog.hide()  # gone before the project opens (it does not close itself): keys reach the window
            self.window.activateWindow()  # the keys come back to the window
            if not job.is_cancelled():
                self._opened(project)
                return
            # Cancelled while the (uninterruptible) recording finished: the file is
            # complete, so it is kept, closed.
            project.close()
            self._cancelled(f"Cancelled; {target} was already complete and is kept")

        job = self._run(create_project, f"Cannot create {target.name}", created)
        job.progressed.connect(lambda item: show_progress(dialog, item))
        dialog.canceled.connect(job.cancel)
        job.finished.connect(dialog.reset)

        def cancelled_when_done() -> None:
            if job.is_cancelled():
                self._cancelled("Cancelled")

        job.finished.connect(cancelled_when_done)
        job.finished.connect(dialog.deleteLater)
        self.progress_dialog = dialog
        self.window.show_busy(f"Creating {target.name}…")
        return job

    def _cancelled(self, message: str) -> None:
        self.window.busy.hide()
        if not self.window.statusBar().currentMessage().startswith("Cancelled"):
            self.window.statusBar().showMessage(message, 10_000)

    def _opened(self, project) -> None:
        self._close_project()
        self.project = project
        self.recent.add(project.address)
        self.training = None
        # A view-only project (a database role that may only read) records no run.
        if self.training_factory is not None and project.may_change:
            try:
                self.training = self.training_factory(project)
            except Exception as exc:  # noqa: BLE001 -- shown; the window still labels
                self.report("Training is unavailable for this project", exc)
        if self.training is None:
            # No service to notice it: a run whose trainer is gone reads as interrupted all the same.
            from app.training.recorder import recover_on_open

            with contextlib.suppress(ProjectError, StoreError):
                recover_on_open(project)
        self.window.set_project(project, self.training)
        self._prepare_history(project)
        self._follow(project)

    # --- following the log live ---------------------------------------------------------

    def _follow(self, project) -> LiveFollower:
        """Wait on the project's store off the GUI thread; catch the project up here when
        anyone (another workstation, another process, a worker) appended."""
        service, address = self.app.projects, project.address
        follower = LiveFollower(lambda: service.open_log(address, read_only=True), project.position, self)
        follower.arrived.connect(lambda _head: self._catch_up(project))
        follower.lost.connect(lambda message, pause: self._lost(project, message, pause))
        follower.back.connect(lambda: self._back(project))
        follower.job.failed.connect(lambda exc: self.report("Stopped following this project live", exc))
        self.follower = follower
        self._follower_lost = self._refresh_failed = False
        return follower.start()

    def _catch_up(self, project) -> None:
        if self.project is not project or project.read_only:
            return
        for attempt in (1, 2):
            try:
                project.refresh()
                break
            except StoreError as exc:
                # A connection the server dropped is replaced on the next call: once more.
                if attempt == 2:
                    if not project.address.is_server:
                        self.report("Cannot read the changes made by other programs", exc)
                        return
                    self._refresh_failed = True
                    self.window.set_unreachable(str(exc))
                    return
        if self._refresh_failed and not self._follower_lost:
            self._refresh_failed = False
            self.window.set_unreachable(None)

    def _lost(self, project, message: str, pause: float | None) -> None:
        if self.project is not project:
            return
        if not project.address.is_server:
            # A file this window writes itself: only others' changes are not followed now.
            self.window.statusBar().showMessage(f"Not following changes by other programs: {message}", 10_000)
            return
        self._follower_lost = True
        self.window.set_unreachable(message, pause)

    def _back(self, project) -> None:
        if self.project is not project or not project.address.is_server:
            return
        self._follower_lost = False
        self._refresh_failed = False
        self.window.set_unreachable(None)
        self._catch_up(project)

    def _stop_following(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower.deleteLater()
            self.follower = None

    # --- history ------------------------------------------------------------------------

    def _prepare_history(self, project) -> BackgroundJob:
        """Build the as-of snapshots and the filter index off the GUI thread (a first
        open of a long log reads it once), then hand the history to the panel."""
        history = self.window.travel.machine.history
        panel = self.window.history_panel

        def prepare(cancelled):
            yield from history.prepare(cancelled)
            return history

        def ready(prepared) -> None:
            if self.project is project:  # another project may have been opened meanwhile
                panel.show_history(prepared)

        job = self._run(prepare, "Cannot read the history of this project", ready)
        self._project_jobs.append(job)

        def forget() -> None:
            if job in self._project_jobs:
                self._project_jobs.remove(job)

        def progressed(p) -> None:
            if self.project is project:
                panel.set_ready(False, f"Preparing the history… {p[0] * 100 // max(1, p[1])}%")

        job.finished.connect(forget)
        job.progressed.connect(progressed)
        return job

    def branch(self, position: int, target: Path) -> BackgroundJob | None:
        """A new project file holding the history up to ``position``; then open it."""
        if self.project is None:
            return None
        history = self.window.travel.machine.history
        self.window.show_busy(f"Branching at position {position:,} into {target.name}…")

        def branch(cancelled):
            yield "branching"
            return history.branch(position, target)

        return self._run(branch, f"Cannot branch into {target.name}", self.open)

    # --- exporting ----------------------------------------------------------------------

    def export(self, what: str, target: Path) -> BackgroundJob | None:
        """Write the labels (.csv/.json), the event log (.jsonl) or the latest run's
        predictions (.csv) in the background."""
        from app.history.export import export_events, export_labels, export_predictions

        project = self.project
        if project is None:
            return None
        write = {"labels": export_labels, "events": export_events, "predictions": export_predictions}[what]

        def export(cancelled):
            yield f"Exporting {what}…"
            return write(project, target)

        self.window.show_busy(f"Exporting {what} to {target}…")

        def done(result) -> None:
            self.window.busy.hide()
            if what == "predictions":
                said = (
                    f"the predictions of {result.rows:,} samples (run {result.run_id}, epoch {result.epoch})"
                )
            else:
                said = f"{result:,} {what}"
            self.window.statusBar().showMessage(f"Exported {said} to {target}", 10_000)

        return self._run(export, f"Cannot export the {what}", done)

    # --- one way to run, one place for errors -------------------------------------------

    def _run(self, job_function, failure_title: str, on_success) -> BackgroundJob:
        job = BackgroundJob(job_function, self)
        job.succeeded.connect(on_success)
        job.failed.connect(lambda exc: self.report(failure_title, exc))
        job.finished.connect(lambda: self._jobs.remove(job))
        self._jobs.append(job)
        return job.start()

    def report(self, title: str, exc: BaseException) -> None:
        """The one place errors reach the person: a message that says what to do."""
        if isinstance(exc, EXPECTED_ERRORS):
            message = str(exc)
        else:
            message = (
                f"Something unexpected went wrong ({type(exc).__name__}: {exc}). "
                "Nothing recorded was lost; please report this."
            )
        self.window.show_error(title, message)

    def _close_project(self) -> None:
        # Jobs still reading this project end first: its store closes under nobody.
        for job in list(self._project_jobs):
            job.cancel()
            job.wait()
        self._project_jobs.clear()
        self._stop_following()
        if self.training is not None:
            training, self.training = self.training, None
            training.shutdown()
            # The run's Qt objects are destroyed here, on the GUI thread (deleteLater), not
            # by the garbage collector on whichever thread it runs: then the closed project
            # they held is plain Python memory the collector may free anywhere.
            release = getattr(getattr(training, "runner", None), "release", None)
            if release is not None:
                release()
        if self.project is not None:
            self.window.release_project()
            self.project.close()
            self.project = None

    def shutdown(self) -> None:
        self._stop_following()
        for job in list(self._jobs):
            job.cancel()
            job.wait()
        self._close_project()


def hand_large_blocks_back() -> None:
    """Keep a long session's memory from growing with freed blocks. glibc raises its mmap
    threshold to 32 MB (and its trim threshold to 64 MB) once a large block is freed: from
    then on the large temporaries of the window's background jobs (a label check's pixel
    features, a run's images) are carved from per-thread arenas and stay resident after
    they are freed, tens of MB at a time (`docs/benchmarks.md`, Soak). A fixed threshold
    of 8 MiB keeps larger blocks out of the arenas: each is the system's and handed back
    when freed; free memory at a heap's top is handed back beyond twice that (glibc's own
    rule; at its default of 128 kB each copy of a 1 M-sample label array, 8,000,000 bytes,
    was ten times slower). A 16 MB threshold did not help. Nothing to do where the C
    library is not glibc."""
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES)
    mallopt(M_TRIM_THRESHOLD, 2 * LARGE_BLOCK_BYTES)


def shown(where) -> str:
    """What a message may say about ``where``: an address's display, never a password."""
    try:
        return ProjectAddress.parse(where).display
    except (ProjectError, StoreError, TypeError):
        return redact_any(str(where))
