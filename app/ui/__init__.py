"""The window. ``launch`` is the only entry point; Qt is imported when it is called."""

from __future__ import annotations

import os
import sys


def launch(path: str | os.PathLike[str] | None, app) -> int:
    """Open the window on ``path`` — a ``.ledger`` file or a server project's
    ``postgresql://…?project=NAME`` URL — (else the last project, else the default MNIST project)
    and run until it closes.

    ``app`` is the ``Application`` the composition root built. Returns the exit code.
    """
    qt_app = qt_application()
    if qt_app is None:
        return 2
    from app.ui.session import Session

    session = Session(app, training_factory=training_factory(app))
    session.window.show()
    # A path or a server project's URL goes through as given: ``ProjectAddress`` tells them
    # apart (``Path`` would mangle ``postgresql://…``).
    session.open(os.fspath(path) if path else session.last_project())
    code = qt_app.exec()
    session.shutdown()
    return code


def qt_application():
    """The QApplication, or None — after telling the person how to proceed — when no
    window can be shown here (Qt would abort the process instead of raising)."""
    from app.ui.display import display_problem

    problem = display_problem(os.environ)
    if problem:
        print(problem, file=sys.stderr)
        return None
    from PySide6.QtWidgets import QApplication

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    qt_app.setApplicationName("Ledgerlab")
    qt_app.setOrganizationName("Ledgerlab")
    return qt_app


def training_factory(app):
    """project -> TrainingService with the window's runners; the service's module is
    imported on first use (it does not load JAX)."""

    def build(project):
        from app.training.service import TrainingService
        from app.ui.training_runners import qt_runners

        return TrainingService(
            project, runners=qt_runners(), compilation_cache=app.settings.compilation_cache
        )

    def preload() -> None:
        import app.training.service  # noqa: F401 -- imported off the GUI thread while a project opens

    build.preload = preload
    return build
