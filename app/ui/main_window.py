"""The labeling workbench window. It receives everything it shows: a project (whose
changes arrive through ``project_changed``), the training service, the errors to
show. It never opens a store itself."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.ui.history_panel import HistoryPanel, TimeBanner
from app.ui.history_source import TimeMachine, difference, latest_run
from app.ui.labeling import LabelingController, LabelingPanel
from app.ui.latent_map import LatentMapView
from app.ui.predictions import LatestPredictions
from app.ui.sample_viewer import SampleViewer
from app.ui.selection import Selection
from app.ui.time_travel import TimeTravel
from app.ui.training_panel import TrainingPanel

FOLLOW_INTERVAL_MS = 500  # how often events written by other processes are picked up


class ProjectSummary(QWidget):
    """Name, sample count and event count of the open project."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLabel("—")
        self.name.setObjectName("projectName")
        font = self.name.font()
        font.setPointSize(font.pointSize() + 4)
        font.setBold(True)
        self.name.setFont(font)
        self.samples = QLabel("—")
        self.samples.setObjectName("sampleCount")
        self.events = QLabel("—")
        self.events.setObjectName("eventCount")
        self.path = QLabel("—")
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path.setStyleSheet("color: #666;")
        row = QHBoxLayout()
        for caption, value in (("samples", self.samples), ("events", self.events)):
            row.addWidget(value)
            row.addWidget(QLabel(caption))
            row.addSpacing(8)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.name)
        layout.addLayout(row)
        layout.addWidget(self.path)

    def show_project(self, project) -> None:
        info = project.info
        self.name.setText(info.project_name)
        self.samples.setText(f"{info.sample_count:,}")
        self.events.setText(f"{project.event_count:,}")
        self.path.setText(str(project.path))


class MainWindow(QMainWindow):
    project_opened = Signal(object)
    project_changed = Signal(object)       # a ProjectChange, after the project caught up
    problem = Signal(str, object)          # (title, exception): the session shows it

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Ledgerlab")
        self._settings = settings
        self.project = None
        self.shown = None  # the project every view shows: the live one, or one as of a position
        self.last_error: QMessageBox | None = None
        self._unsubscribe = None

        self.selection = Selection(self)
        self.predictions = LatestPredictions()
        self.summary = ProjectSummary()
        self.map_view = LatentMapView(self.selection, self.predictions)
        self.viewer = SampleViewer(self.selection, self.predictions)
        self.labeling = LabelingController(self, self.selection, self.predictions, self.problem.emit)
        self.label_panel = LabelingPanel(self.labeling)
        self.training = TrainingPanel()
        self.travel = TimeTravel(self.show_state, self.problem.emit, self)
        self.history_panel = HistoryPanel(self.travel)
        self.banner = TimeBanner()
        self.banner.back.clicked.connect(self.travel.back_to_now)
        self.travel.viewing.connect(self._viewing)

        side = QWidget()
        column = QVBoxLayout(side)
        column.addWidget(self.summary)
        column.addWidget(self.viewer, 1)
        column.addWidget(self.label_panel)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.map_view)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        central = QWidget()
        stack = QVBoxLayout(central)
        stack.setContentsMargins(0, 0, 0, 0)
        stack.addWidget(self.banner)
        stack.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.training_dock = QDockWidget("Training", self)
        self.training_dock.setObjectName("trainingDock")
        self.training_dock.setWidget(self.training)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.training_dock)
        self.history_dock = QDockWidget("History", self)
        self.history_dock.setObjectName("historyDock")
        self.history_dock.setWidget(self.history_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.history_dock)
        self.tabifyDockWidget(self.training_dock, self.history_dock)
        self.training_dock.raise_()

        self._build_status_bar()
        self.selection.changed.connect(self._update_status)
        self.training.state_changed.connect(lambda _: self._update_status())
        self.project_changed.connect(self._on_change)
        self._follow = QTimer(self)
        self._follow.setInterval(FOLLOW_INTERVAL_MS)
        self._follow.timeout.connect(self._pick_up_new_events)
        self.resize(1280, 860)
        if settings is not None and settings.value("geometry") is not None:
            self.restoreGeometry(settings.value("geometry"))
            if settings.value("windowState") is not None:
                self.restoreState(settings.value("windowState"))

    def _build_status_bar(self) -> None:
        self.status = QLabel("No project open")
        self.status.setObjectName("projectStatus")
        self.training_status = QLabel("")
        self.training_status.setObjectName("trainingStatus")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(160)
        self.busy.hide()
        bar = self.statusBar()
        bar.addPermanentWidget(self.status)
        bar.addPermanentWidget(self.training_status)
        bar.addPermanentWidget(self.busy)

    # -- what the window shows --------------------------------------------------------
    def show_busy(self, message: str) -> None:
        self.statusBar().showMessage(message)
        self.busy.show()

    def set_project(self, project, training=None) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.project = self.shown = project
        self.travel.bind(TimeMachine(project))
        self.banner.show_position(None, None)
        self.history_panel.show_history(None)  # until this project's history is prepared
        # The project calls back on this (the GUI) thread; a signal fans the change out.
        self._unsubscribe = project.subscribe(self.project_changed.emit)
        self.busy.hide()
        self.statusBar().clearMessage()
        self.selection.clear()
        self.predictions.bind(project)
        self.summary.show_project(project)
        self.map_view.show_project(project)
        self.viewer.show_project(project)
        self.labeling.show_project(project)
        self.label_panel.show_project(project)
        self.training.set_service(training)
        self.setWindowTitle(f"{project.info.project_name} — Ledgerlab")
        self._update_status()
        self._follow.start()
        self.project_opened.emit(project)

    def _on_change(self, change) -> None:
        if not self.history_panel.log_grew_soon.isActive():
            self.history_panel.log_grew_soon.start()
        if self.travel.in_past:
            # The views keep showing the past the person chose; "Back to now" shows
            # everything that arrived meanwhile.
            self._update_status()
            return
        new_predictions = self.predictions.on_change(change)
        self.map_view.apply_change(change, new_predictions)
        self.viewer.apply_change(change, new_predictions)
        if change.samples or change.classes_changed:
            if change.classes_changed:
                self.labeling.show_project(self.project)
                self.label_panel.show_project(self.project)
            else:
                self.label_panel.update_counts(self.project)
        self.labeling.refresh_actions()
        self.summary.events.setText(f"{self.project.event_count:,}")
        self._update_status()

    # -- time travel ----------------------------------------------------------------------
    def show_state(self, target) -> None:
        """Every view shows ``target`` (the live project, or a read-only one as of a
        position); only what differs from the state shown so far is redrawn."""
        change, new_predictions = difference(self.shown, target)
        self.shown = target
        self.predictions.bind(target)
        self.map_view.show_state(target, change, new_predictions)
        self.viewer.show_state(target, change, new_predictions)
        self.labeling.show_state(target, change.classes_changed)
        if change.classes_changed:
            self.label_panel.show_project(target)
        else:
            self.label_panel.update_counts(target)
        self.label_panel.set_read_only(target.read_only)
        if target.read_only:
            self.training.show_as_of(latest_run(target))
        else:
            self.training.show_now()
        self.summary.events.setText(f"{target.event_count:,}")
        self._update_status()

    def _viewing(self, position) -> None:
        when = None if position is None else self.travel.machine.time_at(position)
        self.banner.show_position(position, when)

    def show_error(self, title: str, message: str) -> None:
        """A window-modal message that does not block the event loop."""
        self.busy.hide()
        self.statusBar().showMessage(message, 10_000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorMessage")
        box.open()
        self.last_error = box

    def _update_status(self) -> None:
        project = self.shown
        self.training_status.setText(f"training: {self.training.state}")
        if project is None:
            return
        info, labels = project.info, project.labels
        current = self.selection.current
        where = f" · sample {current:,}" if current is not None else ""
        self.status.setText(
            f"{info.project_name} · {project.annotator} · {labels.labeled:,} of "
            f"{info.sample_count:,} samples labeled · {project.event_count:,} events · "
            f"position {project.position:,}{where}" + (" · read-only (the past)" if project.read_only else "")
        )

    def _pick_up_new_events(self) -> None:
        if self.project is not None and self.project.head() > self.project.position:
            self.project.refresh()

    # -- lifetime -----------------------------------------------------------------------
    def release_project(self) -> None:
        """The session is closing the project: stop following and playing it."""
        self._follow.stop()
        self.travel.stop()
        self.history_panel.show_history(None)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._follow.stop()
        self.travel.stop()
        if self._settings is not None:
            self._settings.setValue("geometry", self.saveGeometry())
            self._settings.setValue("windowState", self.saveState())
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        super().closeEvent(event)
