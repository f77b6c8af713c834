"""``ledgerlab demo``: the whole loop, hands-free — a fresh MNIST project, some labels,
a training run watched live, and optionally a screenshot of the window when it ends.

The demo plays a person: it selects samples and presses their digit keys on the real
window (the embedded set's true digits, an equal number per class) and starts training through
the training panel, as clicks would.

It leaves the person's own Ledgerlab alone: its project, its window settings (size,
recent projects, last project) and its data folder all live in a temporary folder.
With a screenshot it saves two: at the default size (1280×860) and at the window's
minimum size (``NAME-minimum.png`` beside it). The temporary folder (about 27 MB) is
removed when the demo ends, unless ``keep`` asks for the project to stay.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal  # QtCore loads without a display
from PySide6.QtTest import QTest

SCREENSHOT_DELAY_MS = 1_000  # let the last epoch's map and predictions be drawn
DEFAULT_SIZE = (1280, 860)  # the window's first size, as a person meets it


def run_demo(
    app,
    *,
    screenshot: Path | None = None,
    labels: int = 100,
    epochs: int = 3,
    runner: str = "process",
    keep: bool = False,
) -> int:
    """Run the demo in a new window; with ``screenshot``, save it and exit when training ends."""
    from app.ui import qt_application, training_factory
    from app.ui.session import Session

    qt_app = qt_application()
    if qt_app is None:
        return 2
    folder = Path(tempfile.mkdtemp(prefix="ledgerlab-demo-"))
    app = isolated(app, folder)
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    session = Session(app, settings, training_factory=training_factory(app))
    demo = Demo(
        session, folder / "demo.ledger", labels=labels, epochs=epochs, runner=runner, screenshot=screenshot
    )
    if screenshot is not None:
        demo.done.connect(qt_app.quit)
    session.window.resize(*DEFAULT_SIZE)
    session.window.show()
    demo.start()
    if keep:
        print(f"demo project: {folder / 'demo.ledger'}", flush=True)
    try:
        qt_app.exec()
        session.shutdown()
    finally:
        settings.sync()  # written now, not when Qt drops it after the folder is gone
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if demo.outcome in ("completed", None) else 1


def isolated(app, folder: Path):
    """``app`` with its data folder in ``folder``: nothing the demo does (a default project,
    a file dialog's starting folder) reaches the person's own data folder."""
    return dataclasses.replace(app, settings=dataclasses.replace(app.settings, data_dir=folder / "data"))


class Demo(QObject):
    done = Signal()

    def __init__(
        self, session, target: Path, *, labels: int, epochs: int, runner: str, screenshot: Path | None
    ) -> None:
        super().__init__(session)
        self.session, self.target = session, target
        self.labels, self.epochs, self.runner, self.screenshot = labels, epochs, runner, screenshot
        self.outcome: str | None = None

    def start(self) -> None:
        self.session.window.project_opened.connect(self._opened)
        self.session.create(self.target, "mnist")

    def _opened(self, project) -> None:
        self.session.window.project_opened.disconnect(self._opened)
        from domain.dataset import load_mnist

        truth = load_mnist(self.session.app.settings.resources_dir).true_labels
        classes = len(project.info.class_names)
        window = self.session.window
        from PySide6.QtWidgets import QApplication

        for _ in range(100):  # a dialog still up (the new project's progress) takes the keys
            if QApplication.activeModalWidget() is None:
                break
            QTest.qWait(100)
        else:
            blocking = QApplication.activeModalWidget()
            name = "" if blocking is None else blocking.objectName() or type(blocking).__name__
            self._finish(f"a dialog ({name}) keeps the keys")
            return
        # Shortcuts reach only the active window. A real display activates it a moment after
        # it is mapped, and the platform may take activation away again a moment later (a
        # dialog that just closed hands it back asynchronously): ask until it is ours.
        for _ in range(100):
            QTest.qWait(50)
            if _is_active(window):
                break
            window.raise_()
            window.activateWindow()
        else:
            self._finish("the window never became active, so key presses cannot reach it")
            return
        # A simulated annotator at the real window: select a sample, press its digit.
        for digit in range(min(classes, 10)):
            for sample in np.flatnonzero(truth == digit)[: max(1, self.labels // classes)]:
                window.selection.select_one(int(sample))
                QTest.keyClick(window, Qt.Key(int(Qt.Key.Key_0) + digit))
        if project.labels.labeled == 0:
            focus = QApplication.focusWidget()
            self._finish(
                "the key presses recorded no label (keys went to "
                f"{type(focus).__name__ if focus is not None else 'no widget'})"
            )
            return
        panel = self.session.window.training
        if panel.service is None or "epochs" not in panel.fields:
            self._finish("training unavailable")
            return
        panel.fields["epochs"][1].setText(str(self.epochs))
        panel.runner.setCurrentIndex(max(0, panel.runner.findData(self.runner)))
        panel.signals.run_ended.connect(lambda info: self._finish(info.status))
        panel.start()
        if panel.run_id is None:  # refused: the panel shows why
            self._finish(panel.config_error.text() or "not started")

    def _finish(self, outcome: str) -> None:
        self.outcome = outcome
        if self.screenshot is None:
            return
        window = self.session.window
        window.map_view.colour_choice.setCurrentIndex(1)  # label, else prediction
        project = self.session.project
        unlabeled = (project.labels.labels < 0).nonzero()[0]
        if len(unlabeled):
            window.selection.select_one(int(unlabeled[0]))
        QTimer.singleShot(SCREENSHOT_DELAY_MS, self._save)

    def _save(self) -> None:
        window = self.session.window
        window.grab().save(str(self.screenshot))
        print(f"screenshot: {self.screenshot} (training {self.outcome})", flush=True)
        # The same window at the smallest size it allows: every control must still read.
        window.resize(window.minimumSize())
        QTimer.singleShot(SCREENSHOT_DELAY_MS // 2, self._save_minimum)

    def _save_minimum(self) -> None:
        window = self.session.window
        if self.screenshot is None:
            return
        path = self.screenshot.with_name(f"{self.screenshot.stem}-minimum{self.screenshot.suffix}")
        window.grab().save(str(path))
        print(f"screenshot: {path} ({window.width()}×{window.height()}, the minimum size)", flush=True)
        self.done.emit()


def _is_active(window: QObject) -> bool:
    from PySide6.QtWidgets import QApplication

    return QApplication.activeWindow() is window
