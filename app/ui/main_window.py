"""The labeling workbench window. It receives everything it shows: a project (whose
changes arrive through ``project_changed``), the training service, the errors to
show. It never opens a store itself."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.project.errors import ProjectError
from app.ui.history_panel import HistoryPanel, TimeBanner
from app.ui.history_source import TimeMachine, difference, latest_run
from app.ui.label_buttons import LabelingPanel
from app.ui.labeling import LabelingController
from app.ui.latent_map import LatentMapView
from app.ui.predictions import LatestPredictions
from app.ui.project_summary import ProjectSummary, display_name
from app.ui.sample_viewer import SampleViewer
from app.ui.selection import Selection
from app.ui.time_travel import TimeTravel
from app.ui.training_panel import TrainingPanel
from app.ui.widgets import ignore_wheel_unless_focused
from domain.training_events import WINDOW_STREAM, CloseDuringRunChosen
from eventstore import StoreError

VIEW_ONLY = "You may view this project but not change it: your database role may only read."
DEFAULT_SIZE = QSize(1280, 860)
# The smallest size at which every control still reads in full (screenshots in docs/):
# the map's toolbar, the class buttons and their navigation row, Start/Stop above the
# settings, and the history's slider row.
MINIMUM_SIZE = QSize(1100, 720)
TRAINING_DOCK_PX = 220  # the training panel's first height: Start, progress and a few fields
LAYOUT_VERSION = 2  # saved window states of another layout are not restored
KEEP_TRAINING, STOP_TRAINING = "keep", "stop"


class MainWindow(QMainWindow):
    project_opened = Signal(object)
    project_changed = Signal(object)  # a ProjectChange, after the project caught up
    problem = Signal(str, object)  # (title, exception): the session shows it

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Ledgerlab")
        self._settings = settings
        self.project: Any = None
        self.shown: Any = None  # the project every view shows: the live one, or one as of a position
        self.last_error: QMessageBox | None = None
        self.close_question: QMessageBox | None = None
        self.close_choice: str | None = None  # what the person chose when closing during a run
        self._unsubscribe = None
        self.unreachable: str | None = None  # why the project's server cannot be reached now

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
        # Team mode: a view-only role, or the server gone away (says so; changes refused).
        self.access_banner = QLabel()
        self.access_banner.setObjectName("accessBanner")
        self.access_banner.setWordWrap(True)
        self.access_banner.setStyleSheet("background: #fff3cd; color: #664d03; padding: 4px 8px;")
        self.access_banner.hide()
        self.travel.viewing.connect(self._viewing)

        # The prediction bars appear after the first epoch; their room is kept from the
        # start so the column does not grow under the pointer (nor squeeze the docks).
        bars = self.viewer.bars_box.sizePolicy()
        bars.setRetainSizeWhenHidden(True)
        self.viewer.bars_box.setSizePolicy(bars)
        # On a short window the sample (image, text, bars) scrolls rather than overlapping
        # the class buttons.
        viewer_scroll = QScrollArea()
        viewer_scroll.setObjectName("viewerScroll")
        viewer_scroll.setFrameShape(QFrame.Shape.NoFrame)
        viewer_scroll.setWidgetResizable(True)
        viewer_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        viewer_scroll.setWidget(self.viewer)
        side = QWidget()
        column = QVBoxLayout(side)
        column.setContentsMargins(6, 4, 4, 0)
        column.addWidget(self.summary)
        column.addWidget(viewer_scroll, 1)
        column.addWidget(self.label_panel)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.map_view)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        central = QWidget()
        stack = QVBoxLayout(central)
        stack.setContentsMargins(0, 0, 0, 0)
        stack.addWidget(self.banner)
        stack.addWidget(self.access_banner)
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
        from app.ui.runs_panel import install_runs_panel  # issue 17: the Runs dock, beside the history

        self.runs_panel = install_runs_panel(self)
        self.training_dock.raise_()
        self.resizeDocks([self.training_dock], [TRAINING_DOCK_PX], Qt.Orientation.Vertical)
        for dock in (self.training_dock, self.history_dock):
            dock.setMinimumHeight(170)  # Start, Stop and the progress always fit

        self._build_status_bar()
        self.selection.changed.connect(self._update_status)
        self.training.state_changed.connect(lambda _: self._update_status())
        self.project_changed.connect(self._on_change)
        ignore_wheel_unless_focused(self)
        self.setMinimumSize(MINIMUM_SIZE)
        self.resize(DEFAULT_SIZE)
        self.restore_layout()

    def _fit_minimum_size(self) -> None:
        """Never smaller than the panels need to show every control in full (class buttons
        and their keys depend on the project)."""
        layout = self.layout()
        if layout is None:
            return
        needed = MINIMUM_SIZE.expandedTo(layout.totalMinimumSize())
        if needed != self.minimumSize():
            self.setMinimumSize(needed)

    # -- the layout between launches -----------------------------------------------------
    def restore_layout(self) -> None:
        """The size, docks and splitter of the last session, kept on the screen: a window
        saved on a larger screen is shrunk to this one, never below the minimum size."""
        settings = self._settings
        if settings is None or settings.value("geometry") is None:
            return
        self.restoreGeometry(settings.value("geometry"))
        if str(settings.value("layoutVersion", "")) == str(LAYOUT_VERSION):
            if settings.value("windowState") is not None:
                self.restoreState(settings.value("windowState"), LAYOUT_VERSION)
            if settings.value("splitter") is not None:
                self.splitter.restoreState(settings.value("splitter"))
            if settings.value("trainingPlots") is not None:
                self.training.plots.restoreState(settings.value("trainingPlots"))
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None or self.isMaximized() or self.isFullScreen():
            return
        room = screen.availableGeometry()
        size = self.size().boundedTo(room.size()).expandedTo(self.minimumSize())
        if size != self.size():
            self.resize(size)
        frame = self.frameGeometry()
        if not room.contains(frame):
            frame.moveTopLeft(room.topLeft())
            self.move(frame.topLeft())

    def save_layout(self) -> None:
        settings = self._settings
        if settings is None:
            return
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("windowState", self.saveState(LAYOUT_VERSION))
        settings.setValue("splitter", self.splitter.saveState())
        settings.setValue("trainingPlots", self.training.plots.saveState())
        settings.setValue("layoutVersion", LAYOUT_VERSION)

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
        self.unreachable = None  # a project just opened was reached
        self.labeling.offline = None
        # Any project opened (another one, a branch, a recent file) is shown as it is now.
        self.travel.bind(TimeMachine(project))
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
        self.training.show_project(project, training)
        self._show_mode(project)
        self._fit_minimum_size()
        self.setWindowTitle(f"{display_name(project)} — Ledgerlab")
        self._show_access()
        self._update_status()
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
        self._show_mode(target)
        self.summary.events.setText(f"{target.event_count:,}")
        self._update_status()

    def _show_mode(self, target) -> None:
        """The one place the controls follow now or the past: the project shown decides
        (a past one is read-only), whoever asked for it (slider, playback, open, branch)."""
        self.label_panel.set_read_only(target.read_only or not self.may_change())
        if target.read_only:
            self.training.show_as_of(latest_run(target))
        else:
            self.training.show_now()

    def _viewing(self, position) -> None:
        when = (
            None if position is None or self.travel.machine is None else self.travel.machine.time_at(position)
        )
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
        self.training_status.setText(self.training.state)
        if project is None:
            return
        info, labels = project.info, project.labels
        current = self.selection.current
        where = f" · sample {current:,}" if current is not None else ""
        self.status.setText(
            f"{info.project_name} · {project.annotator} · {labels.labeled:,} of "
            f"{info.sample_count:,} samples labeled · {project.event_count:,} events · "
            f"position {project.position:,}{where}"
            + (" · read-only (the past)" if project.read_only else "")
            + (" · view only" if not project.read_only and not project.may_change else "")
            + (" · server unreachable" if self.unreachable is not None else "")
        )

    # -- team mode: who may change, and whether the server is there -----------------------
    def may_change(self) -> bool:
        """Whether a change could be recorded now: the role may append and the server is there."""
        return self.project is not None and self.project.may_change and self.unreachable is None

    def set_unreachable(self, message: str | None, retry_in: float | None = None) -> None:
        """The project's store cannot be reached (``message`` says why; reconnecting in
        ``retry_in`` s), or, with None, can again."""
        self.unreachable = message
        self.labeling.offline = message
        if self.shown is not None:
            self._show_mode(self.shown)
        self._show_access(retry_in)
        self._update_status()
        if message is None:
            self.statusBar().showMessage("The server is back: changes are recorded again", 10_000)

    def _show_access(self, retry_in: float | None = None) -> None:
        project = self.project
        if project is None:
            self.access_banner.hide()
            return
        if self.unreachable is not None:
            again = f" Reconnecting in {retry_in:g} s…" if retry_in else " Reconnecting…"
            text = (
                f"Cannot reach the server of this project: changes are refused until it is back "
                f"(nothing is lost).{again} ({self.unreachable})"
            )
        elif not project.may_change:
            text = VIEW_ONLY + " Labeling and training are disabled; everyone's changes appear live."
        else:
            self.access_banner.hide()
            return
        self.access_banner.setText(text)
        self.access_banner.setToolTip(text)
        self.access_banner.show()
        if not project.may_change:  # (its session gives it no training service either)
            self.training.start_button.setEnabled(False)

    # -- lifetime -----------------------------------------------------------------------
    def release_project(self) -> None:
        """The session is closing the project: stop playing it (the session stops following it)."""
        self.travel.stop()
        self.history_panel.show_history(None)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self.training.is_training() and self.close_choice is None:
            event.ignore()  # the person decides what happens to the run first
            self._ask_about_the_run()
            return
        signals = self.training.signals
        if self.close_choice == KEEP_TRAINING and self.training.is_training() and signals is not None:
            # The run goes on in its worker; the window goes away and the application
            # ends (recording every epoch) when the run does.
            event.ignore()
            self.hide()
            signals.run_ended.connect(self._run_ended_after_close)
            return
        self.travel.stop()
        self.save_layout()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        super().closeEvent(event)

    def _run_ended_after_close(self, _notice) -> None:
        self.close()
        # A hidden window's close does not end the application by itself.
        app = QApplication.instance()
        if (
            isinstance(app, QApplication)
            and app.quitOnLastWindowClosed()
            and not any(w.isVisible() for w in app.topLevelWidgets() if w.isWindow())
        ):
            app.quit()

    def _record_close_choice(self, choice: str) -> None:
        """The choice is a fact of the project's history (``CloseDuringRunChosen``)."""
        run_id = self.training.run_id
        if self.project is None or run_id is None:
            return
        event = CloseDuringRunChosen(run_id, "stop" if choice == STOP_TRAINING else "keep running")
        try:
            self.project.record(WINDOW_STREAM, [event])
        except (ProjectError, StoreError) as exc:  # the run's own end is recorded all the same
            self.training.log.appendPlainText(f"(the choice could not be recorded: {exc})")

    def _ask_about_the_run(self) -> None:
        """Closing while a run trains: stop it, or keep it training until it ends."""
        if self.close_question is not None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "A run is training",
            "A training run is still in progress. Stop it now (the epochs done so far "
            "stay recorded), or keep it training in its worker until it ends? The "
            "window closes either way; Ledgerlab keeps running, without a window, "
            "until the run has ended and been recorded.",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName("closeWhileTraining")
        stop = box.addButton("Stop the run", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep training", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)

        def answered(_result: int) -> None:
            self.close_question = None
            clicked = box.clickedButton()
            if clicked is stop:
                self.close_choice = STOP_TRAINING
            elif clicked is keep:
                self.close_choice = KEEP_TRAINING
            else:
                return
            self.training.note_close_choice(self.close_choice)
            self._record_close_choice(self.close_choice)
            self.close()

        box.finished.connect(answered)
        self.close_question = box
        box.open()
