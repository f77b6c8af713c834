"""Glue between the application service and the window: opens projects off the GUI thread
and routes every error to one place that shows the person a message."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings

from app.errors import ProjectError
from app.ui.background import BackgroundJob
from app.ui.main_window import MainWindow
from domain.errors import DomainError
from eventstore import StoreError

EXPECTED_ERRORS = (ProjectError, StoreError, DomainError, OSError, ValueError)


class Session(QObject):
    def __init__(self, app, settings: QSettings | None = None) -> None:
        super().__init__()
        self.app = app
        self.settings = settings if settings is not None else QSettings()
        self.window = MainWindow(self.settings)
        self.project = None
        self._jobs: list[BackgroundJob] = []

    def open(self, path: Path | None) -> BackgroundJob:
        """Open ``path``, or create/open the default MNIST project, in the background."""
        service, data_dir = self.app.projects, self.app.settings.data_dir
        what = str(path) if path else "the default MNIST project"
        self.window.show_busy(f"Opening {what}…")

        def job(cancelled):
            yield "opening"
            return service.open(path) if path else service.open_or_create_default(data_dir)

        background = BackgroundJob(job, self)
        background.succeeded.connect(self._opened)
        background.failed.connect(lambda exc: self.report(f"Cannot open {what}", exc))
        background.finished.connect(lambda: self._jobs.remove(background))
        self._jobs.append(background)
        return background.start()

    def _opened(self, project) -> None:
        if self.project is not None:
            self.project.close()
        self.project = project
        self.window.set_project(project)

    def report(self, title: str, exc: BaseException) -> None:
        """The one place errors reach the person: a message that says what to do."""
        if isinstance(exc, EXPECTED_ERRORS):
            message = str(exc)
        else:
            message = (
                f"Something unexpected went wrong ({type(exc).__name__}: {exc}). "
                "Nothing recorded was lost; please report this with the details below."
            )
        self.window.show_error(title, message)

    def shutdown(self) -> None:
        for job in list(self._jobs):
            job.cancel()
            job.wait()
        if self.project is not None:
            self.project.close()
            self.project = None
