"""The training panel: Start/Stop, a progress bar and the run's state pinned at the
top, the model's settings (``training_form``, validated inline by the service)
scrolling below them, the curves (``training_plots``: losses, and the honest accuracy
estimate with its interval) growing epoch by epoch, and the run's log.

On opening a project it says what happened to the last run (completed, stopped,
failed and why, interrupted) and draws that run's curves from its recorded epochs.
It depends only on the ``TrainingService`` signals and methods; it holds no training
logic. Curves are redrawn at most ``REDRAW_MS`` apart however fast epochs arrive.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.project.errors import ProjectError
from app.training.recorder import resume_point
from app.training.spec import EpochRecorded, LogLine, Progress, RunEnded, RunStarted
from app.ui.history_source import latest_run
from app.ui.honest_accuracy import HonestAccuracy, describe
from app.ui.training_form import SettingsForm, error_label
from app.ui.training_plots import TrainingPlots
from app.ui.training_signals import TrainingSignals
from app.ui.widgets import percent, wrapping_label
from domain.accuracy import AccuracyEstimate
from domain.errors import DomainError
from eventstore import StoreError

REDRAW_MS = 100
RUNNERS = (("process", "separate process (safe)"), ("thread", "in this window's process"))
COMPILING_AFTER_MS = 1_000  # no step done by then: the model is being compiled
COLUMN_PX = 300  # the settings column: every field and both buttons readable
COMPILING = "compiling the model (slow only on the first run on this machine)…"


class TrainingPanel(QWidget):
    state_changed = Signal(str)  # a short description for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service: Any = None
        self.signals: TrainingSignals | None = None
        self._epochs = 1
        self.run_id: str | None = None
        self.series: dict[str, list[float]] = {}
        self.honest: list[AccuracyEstimate | None] = []  # the headline estimate per epoch shown
        self.epochs_done: list[int] = []
        self.estimates = HonestAccuracy(None)
        self.last_run_text = ""  # what the panel said about the last run on opening
        self.past_run = None  # while the window shows the past: that moment's latest run
        self.viewing_past = False
        self.state = "training unavailable"  # a whole phrase: the status bar shows it as is

        self.unavailable = QLabel("Training unavailable in this window.")
        self.unavailable.setObjectName("trainingUnavailable")
        self.settings_form = SettingsForm()
        self.settings_form.changed.connect(self._validate)
        self.config_error = error_label()
        self.runner = QComboBox()
        self.runner.setObjectName("runnerChoice")
        for key, text in RUNNERS:
            self.runner.addItem(text, key)
        self.continue_run = QCheckBox("Continue from the latest checkpoint")
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("startTraining")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopTraining")
        self.stop_button.clicked.connect(self.stop)
        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        # The run's state and any failure: wrapped, so a long message never widens the column.
        self.eta = wrapping_label("")
        self.eta.setObjectName("trainingEta")
        self._compiling = QTimer(
            self, singleShot=True, interval=COMPILING_AFTER_MS, timeout=self._on_compiling
        )

        self.plots = TrainingPlots()
        self.curves = self.plots.curves
        self.loss_plot, self.accuracy_plot = self.plots.loss_plot, self.plots.accuracy_plot
        self.log = QPlainTextEdit()
        self.log.setObjectName("trainingLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        # A traceback's long lines wrap inside the log, even where they have no spaces.
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.log.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.log.setMinimumWidth(120)
        self.plots.addWidget(self.log)
        self.plots.setStretchFactor(0, 3)
        self.plots.setStretchFactor(1, 3)
        self.plots.setStretchFactor(2, 2)
        self.plots.setSizes([3000, 3000, 2400])  # shares of the first width (a saved layout wins)
        self._redraw = QTimer(self, singleShot=True, interval=REDRAW_MS, timeout=self._draw_curves)

        # Start/Stop, progress and the run's state stay in view; the settings scroll.
        pinned = QWidget()
        pinned.setObjectName("trainingControls")
        top = QVBoxLayout(pinned)
        top.setContentsMargins(4, 4, 4, 2)
        top.setSpacing(3)
        top.addWidget(self.unavailable)
        row = QHBoxLayout()
        row.addWidget(self.start_button, 1)
        row.addWidget(self.stop_button)
        top.addLayout(row)
        top.addWidget(self.progress)
        top.addWidget(self.eta)
        top.addWidget(self.config_error)
        settings = QWidget()
        column = QVBoxLayout(settings)
        column.setContentsMargins(4, 2, 4, 4)
        column.addWidget(self.settings_form)
        row = QHBoxLayout()
        row.addWidget(QLabel("Runner"))
        row.addWidget(self.runner, 1)
        column.addLayout(row)
        column.addWidget(self.continue_run)
        column.addStretch(1)
        self.settings_scroll = QScrollArea()
        self.settings_scroll.setObjectName("trainingSettings")
        self.settings_scroll.setWidget(settings)
        self.settings_scroll.setWidgetResizable(True)
        self.settings_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left = QWidget()
        left.setFixedWidth(COLUMN_PX)
        side = QVBoxLayout(left)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(0)
        side.addWidget(pinned)
        side.addWidget(self.settings_scroll, 1)
        for label in (self.unavailable, self.runner):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, label.sizePolicy().verticalPolicy())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(left)
        layout.addWidget(self.plots, 1)
        self.set_service(None)

    @property
    def fields(self) -> dict:
        return self.settings_form.fields

    # --- binding ------------------------------------------------------------------------

    def show_project(self, project, service) -> None:
        """Bind ``service`` (None: training unavailable) and show ``project``'s last run:
        its curves and, in words, how it ended."""
        self.estimates = HonestAccuracy(project)
        self.run_id = None
        self.series, self.honest, self.epochs_done = {}, [], []
        self.log.clear()
        self.eta.setText("")
        self.eta.setToolTip("")
        self.progress.reset()
        self.set_service(service)
        run = latest_run(project) if project is not None else None
        self.last_run_text = ""
        if run is None:
            self._draw_curves()
            return
        self.epochs_done = list(run.epochs)
        self.series = {key: [_number(m.get(key)) for m in run.metrics] for key in self.curves}
        self.honest = self.estimates.series(run)
        self._draw_curves()
        resumable = None
        if run.status == "interrupted" and service is not None:  # what "Continue" would go on from
            point = resume_point(project, run)
            resumable = point[0] if point is not None else run.checkpoint_epoch
        short, self.last_run_text = last_run_text(run, self.honest[-1] if self.honest else None, resumable)
        self.log.appendPlainText(self.last_run_text)
        # Above the settings a short line (the log has the whole sentence): it must not
        # push the form out of sight.
        self.eta.setText(short)
        self.eta.setToolTip(self.last_run_text)
        if run.status != "running" and (service is None or not service.is_running()):
            self._set_state(f"last run {run.status}" + _estimate_suffix(self.honest))

    def set_service(self, service) -> None:
        if self.signals is not None:
            self.signals.detach()
            self.signals.deleteLater()
            self.signals = None
        self.service = service
        self.settings_form.build(service)
        self._validate()
        self.unavailable.setVisible(service is None)
        for widget in (self.runner, self.continue_run, self.start_button):
            widget.setEnabled(service is not None)
        if service is None:
            self._set_state("training unavailable")
            self.stop_button.setEnabled(False)
            return
        self.signals = TrainingSignals(service, self)
        for signal, slot in self._connections():
            signal.connect(slot)
        running = service.is_running()
        self._set_state("training" if running else "not training")
        self._set_running(running)

    def _connections(self):
        s = self.signals
        return (
            (s.run_started, self._on_started),
            (s.progress, self._on_progress),
            (s.epoch_recorded, self._on_epoch),
            (s.run_ended, self._on_ended),
            (s.log_line, self._on_log),
        )

    # --- the form -----------------------------------------------------------------------

    def config(self) -> tuple[dict, dict[str, str]]:
        """The values typed in, and a message per field that is not even a number."""
        return self.settings_form.values()

    def _validate(self) -> bool:
        if self.service is None:
            return False
        values, problems = self.config()
        if not problems:
            problems = self.service.validate(values)
        self.settings_form.show_problems(problems)
        general = self.settings_form.in_form_words(problems.get("config", ""))
        self.config_error.setText(general)
        self.config_error.setVisible(bool(general))
        valid = not problems
        self.start_button.setEnabled(valid and not self.service.is_running() and not self.viewing_past)
        return valid

    # --- commands -----------------------------------------------------------------------

    def show_as_of(self, run) -> None:
        """The window shows the past: draw ``run``'s curves up to that moment (None: no
        run yet) and refuse to start, until ``show_now``."""
        self.viewing_past, self.past_run = True, run
        self.start_button.setEnabled(False)
        self.start_button.setToolTip("Viewing the past (read-only): go back to now to train")
        self._draw_curves()

    def show_now(self) -> None:
        if not self.viewing_past:
            return
        self.viewing_past, self.past_run = False, None
        self.start_button.setToolTip("")
        self._draw_curves()
        self._set_running(self.service is not None and self.service.is_running())
        self._validate()

    def start(self) -> None:
        if self.viewing_past:
            self.config_error.setText("Viewing the past (read-only): press “Back to now” to train")
            self.config_error.show()
            return
        if self.service is None or not self._validate():
            return
        values, _ = self.config()
        epochs = int(values.get("epochs", 1))
        try:
            self.service.start(values, epochs, self.runner.currentData(), self.continue_run.isChecked())
        except (ProjectError, DomainError, StoreError, ValueError) as exc:  # the service says why
            self.config_error.setText(self.settings_form.in_form_words(str(exc)))
            self.config_error.show()

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self._set_state("training: stopping…")

    def is_training(self) -> bool:
        return self.service is not None and self.service.is_running()

    def note_close_choice(self, choice: str) -> None:
        """The window is closing during this run: say in the run's log what was chosen
        (the run's own events record how it ends: stopped by the closing window, or
        completed)."""
        line = (
            "window closed: the run was stopped"
            if choice == "stop"
            else "window closed: the run keeps training until it ends"
        )
        self.log.appendPlainText(line)

    # --- what the service reports -------------------------------------------------------

    def _on_started(self, info: RunStarted) -> None:
        self.run_id = info.run_id
        self.series = {key: [] for key in self.curves}
        self.honest, self.epochs_done = [], []
        self._draw_curves()
        self.log.clear()
        for line in self.service.log_lines(self.run_id):
            self.log.appendPlainText(line)
        self.progress.setRange(0, max(1, info.epochs))
        self.progress.setValue(0)
        self.progress.setFormat(f"epoch 0 of {info.epochs}")
        self.eta.setText("starting…")
        self._epochs = info.epochs
        self._set_running(True)
        self._set_state(f"training ({info.runner} runner)")
        self._compiling.start()

    def _on_compiling(self) -> None:
        """No step has finished a moment after the start: say why epoch 0 stands still."""
        if self.run_id is not None and self.is_training():
            self.eta.setText(COMPILING)
            self._set_state("training: compiling the model…")

    def _on_progress(self, info: Progress) -> None:
        if info.run_id != self.run_id:
            return
        if self._compiling.isActive() or self.state.startswith("training: compiling"):
            self._compiling.stop()
            self._set_state(f"training: epoch {info.epoch} of {self._epochs}")
        steps = max(1, info.steps or 1)
        epochs = self._epochs
        done = (info.epoch - 1) + info.step / steps
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * min(1.0, max(0.0, done / epochs))))
        self.progress.setFormat(f"epoch {info.epoch} of {epochs} · step {info.step}/{steps}")
        eta = info.eta_s
        self.eta.setText("ETA estimating…" if eta is None else f"ETA {_duration(eta)}")

    def _on_epoch(self, info: EpochRecorded) -> None:
        if info.run_id != self.run_id:
            return
        metrics = info.metrics
        self.epochs_done.append(info.epoch)
        for key in self.curves:
            self.series.setdefault(key, []).append(_number(metrics.get(key)))
        estimate = self.estimates.estimate(info.run_id, info.epoch, metrics)
        self.honest.append(estimate)
        training = metrics.get("accuracy")
        own = "" if training is None else f"; training accuracy (own labels) {percent(training)}"
        self.log.appendPlainText(f"epoch {info.epoch}: {describe(estimate)}{own}")
        self._set_state(f"training: epoch {info.epoch} of {self._epochs}" + _estimate_suffix(self.honest))
        if not self._redraw.isActive():
            self._redraw.start()

    def _on_ended(self, info: RunEnded) -> None:
        if info.run_id != self.run_id:
            return
        self._compiling.stop()
        self._draw_curves()
        self._set_running(False)
        status, message = info.status, info.message
        # The whole message is in the log; here a line that wraps (never widens the form).
        self.eta.setText(f"Run {status}{': ' + _first_line(message) if message else ''}")
        if status == "completed":
            self.progress.setValue(self.progress.maximum())
        self._set_state(f"last run {status}" + _estimate_suffix(self.honest))
        self._validate()

    def _on_log(self, info: LogLine) -> None:
        if info.run_id == self.run_id or self.run_id is None:
            self.log.appendPlainText(info.line)

    def _draw_curves(self) -> None:
        epochs, series, honest = self.epochs_done, self.series, self.honest
        if self.viewing_past:  # the run as recorded up to the position shown
            run = self.past_run
            epochs = list(run.epochs) if run is not None else []
            series = {
                key: [_number(m.get(key)) for m in run.metrics] if run is not None else []
                for key in self.curves
            }
            honest = self.estimates.series(run) if run is not None else []
        self.plots.draw(epochs, series, honest)

    def _set_running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)
        self.start_button.setEnabled(not running and bool(self.fields) and not self.viewing_past)
        self.settings_form.set_read_only(running)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)


def last_run_text(run, estimate: AccuracyEstimate | None, resumable: int | None = None) -> tuple[str, str]:
    """What happened to ``run`` (a ``TrainingRun``): a short line for above the settings,
    and the whole sentence for the log. ``resumable``: the epoch an interrupted run can be
    continued from (None: it cannot)."""
    done = len(run.epochs)
    epochs = f"{done} epoch{'s' if done != 1 else ''}"
    name = f"Last run {run.run_id}"
    if run.status == "running":
        short = f"Run {run.run_id} is training in another window or process"
        return short, f"{short} ({epochs} so far)."
    if run.status == "completed":
        short = f"Last run completed {epochs}"
        text = f"{name} completed {epochs}"
    elif run.status == "stopped":
        short = f"Last run stopped after {epochs} of {run.epochs_planned}"
        text = f"{name} was stopped after {epochs} of {run.epochs_planned}" + (
            f" ({run.message})" if run.message else ""
        )
    elif run.status == "failed":
        reason = _first_line(run.message) or "no reason was recorded"
        short = f"Last run failed after {epochs}: {_first_line(reason, 80)}"
        text = f"{name} failed after {epochs}: {reason}"
    else:
        short = f"Last run interrupted after {epochs}"
        text = f"{name} was interrupted after {epochs} (the program training it ended without recording how)"
        if resumable is not None:
            text += f"; tick “Continue from the latest checkpoint” to go on from epoch {resumable}"
    said = describe(estimate)
    return short, (f"{text}. {said[:1].upper()}{said[1:]}." if done else f"{text}.")


def _estimate_suffix(honest: list[AccuracyEstimate | None]) -> str:
    return f", {describe(honest[-1])}" if honest else ""


def _first_line(message: str, limit: int = 160) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
