"""The main window. It receives everything it shows; it never opens a store itself."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

FOLLOW_INTERVAL_MS = 500  # how often events written by other processes are picked up


class ProjectSummary(QWidget):
    """Name, sample count and event count of the open project."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLabel("—")
        self.name.setObjectName("projectName")
        font = self.name.font()
        font.setPointSize(font.pointSize() + 6)
        font.setBold(True)
        self.name.setFont(font)
        self.samples = QLabel("—")
        self.samples.setObjectName("sampleCount")
        self.events = QLabel("—")
        self.events.setObjectName("eventCount")
        self.path = QLabel("—")
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow("Samples", self.samples)
        form.addRow("Events", self.events)
        form.addRow("File", self.path)
        layout = QVBoxLayout(self)
        layout.addWidget(self.name)
        layout.addLayout(form)
        layout.addStretch(1)

    def show_project(self, project) -> None:
        info = project.info
        self.name.setText(info.project_name)
        self.samples.setText(f"{info.sample_count:,}")
        self.events.setText(f"{project.event_count:,}")
        self.path.setText(str(project.path))


class MainWindow(QMainWindow):
    project_opened = Signal(object)

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Ledgerlab")
        self._settings = settings
        self.project = None
        self.last_error: QMessageBox | None = None
        self._unsubscribe = None
        self.summary = ProjectSummary()
        self.setCentralWidget(self.summary)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(160)
        self.busy.hide()
        self.statusBar().addPermanentWidget(self.busy)
        self._follow = QTimer(self)
        self._follow.setInterval(FOLLOW_INTERVAL_MS)
        self._follow.timeout.connect(self._pick_up_new_events)
        self.resize(960, 640)
        if settings is not None and settings.value("geometry") is not None:
            self.restoreGeometry(settings.value("geometry"))

    # -- what the window shows --------------------------------------------------------
    def show_busy(self, message: str) -> None:
        self.statusBar().showMessage(message)
        self.busy.show()

    def set_project(self, project) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.project = project
        self._unsubscribe = project.subscribe(lambda change: self._refresh_views())
        self.busy.hide()
        self._refresh_views()
        self._follow.start()
        self.project_opened.emit(project)

    def show_error(self, title: str, message: str) -> None:
        """A window-modal message that does not block the event loop."""
        self.busy.hide()
        self.statusBar().showMessage(message)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorMessage")
        box.open()
        self.last_error = box

    def _refresh_views(self) -> None:
        project = self.project
        self.summary.show_project(project)
        self.setWindowTitle(f"{project.info.project_name} — Ledgerlab")
        self.statusBar().showMessage(
            f"{project.info.project_name} · {project.annotator} · "
            f"{project.info.sample_count:,} samples · {project.event_count:,} events · "
            f"position {project.position:,}"
        )

    def _pick_up_new_events(self) -> None:
        if self.project is not None and self.project.head() > self.project.position:
            self.project.refresh()

    # -- lifetime -----------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._follow.stop()
        if self._settings is not None:
            self._settings.setValue("geometry", self.saveGeometry())
        if self._unsubscribe is not None:
            self._unsubscribe()
        super().closeEvent(event)
