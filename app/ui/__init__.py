"""The window. ``launch`` is the only entry point; Qt is imported when it is called."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def launch(path: str | os.PathLike[str] | None, app) -> int:
    """Open the window on ``path`` (or the default MNIST project) and run until it closes.

    ``app`` is the ``Application`` the composition root built. Returns the exit code.
    """
    from app.ui.display import display_problem

    problem = display_problem(os.environ)
    if problem:
        print(problem, file=sys.stderr)
        return 2

    from PySide6.QtWidgets import QApplication

    from app.ui.session import Session

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    qt_app.setApplicationName("Ledgerlab")
    qt_app.setOrganizationName("Ledgerlab")
    session = Session(app)
    session.open(Path(path) if path else None)
    session.window.show()
    code = qt_app.exec()
    session.shutdown()
    return code
