"""The training panel: Start/Stop, a progress bar and the run's state pinned at the
top, the model's configuration form (validated inline by the service) scrolling below
them, live loss and accuracy curves growing epoch by epoch, and the run's log.

It depends only on the ``TrainingService`` signals and methods; it holds no
training logic. Curves are redrawn at most ``REDRAW_MS`` apart however fast
epochs arrive.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.project.errors import ProjectError
from app.training.spec import EpochRecorded, LogLine, Progress, RunEnded, RunStarted
from app.ui.training_signals import TrainingSignals
from app.ui.widgets import percent, wrapping_label
from domain.errors import DomainError
from eventstore import StoreError

REDRAW_MS = 100
# Loss terms differ by orders of magnitude (a total in the hundreds, KL and classification
# in units): on a linear axis the small ones lay flat at zero, so the axis is logarithmic.
LOSS_CURVES = (
    ("loss", "total loss", "#202020"),
    ("reconstruction", "reconstruction", "#1f77b4"),
    ("kl", "KL", "#ff7f0e"),
    ("classification", "classification", "#d62728"),
)
LOSS_KEYS = frozenset(key for key, _, _ in LOSS_CURVES)
RUNNERS = (("process", "separate process (safe)"), ("thread", "in this window's process"))
COMPILING_AFTER_MS = 1_000  # no step done by then: the model is being compiled
COLUMN_PX = 300  # the settings column: every field and both buttons readable
COMPILING = "compiling the model (slow only on the first run on this machine)…"


class TrainingPanel(QWidget):
    state_changed = Signal(str)  # a short description for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = None
        self.signals: TrainingSignals | None = None
        self._epochs = 1
        self.run_id: str | None = None
        self.fields: dict[str, tuple[dict, QLineEdit, QLabel]] = {}
        self.series: dict[str, list[float]] = {}
        self.epochs_done: list[int] = []
        self.past_run = None  # while the window shows the past: that moment's latest run
        self.viewing_past = False
        self.state = "training unavailable"  # a whole phrase: the status bar shows it as is

        self.unavailable = QLabel("Training unavailable in this window.")
        self.unavailable.setObjectName("trainingUnavailable")
        self.form = QFormLayout()
        self.config_error = _error_label()
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

        self.loss_plot = pg.PlotWidget(background="w")
        self.loss_plot.setObjectName("lossPlot")
        self.loss_plot.setTitle("losses (log scale)", color="#202020", size="9pt")
        self.loss_plot.setMenuEnabled(False)
        self.loss_plot.hideButtons()
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.setLabel("bottom", "epoch")
        self.curves = {
            key: self.loss_plot.plot(
                [],
                [],
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=4,
                symbolBrush=colour,
                symbolPen=None,
            )
            for key, _, colour in LOSS_CURVES
        }
        # The legend is a column beside the plot, never over its lines.
        legend = QWidget()
        legend.setObjectName("lossLegend")
        entries = QVBoxLayout(legend)
        entries.setContentsMargins(2, 16, 2, 2)
        entries.setSpacing(2)
        for _, name, colour in LOSS_CURVES:
            entries.addWidget(QLabel(f'<span style="color:{colour}; font-size:12pt">●</span> {name}'))
        entries.addStretch(1)
        self.loss_plots = QWidget()
        row = QHBoxLayout(self.loss_plots)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.loss_plot, 1)
        row.addWidget(legend)
        self.accuracy_plot = pg.PlotWidget(background="w")
        self.accuracy_plot.setTitle("accuracy on labeled samples", color="#2ca02c", size="9pt")
        self.accuracy_plot.setMenuEnabled(False)
        self.accuracy_plot.hideButtons()
        self.accuracy_plot.setLabel("bottom", "epoch")
        self.accuracy_plot.setYRange(0, 1)
        self.curves["accuracy"] = self.accuracy_plot.plot(
            [],
            [],
            pen=pg.mkPen("#2ca02c", width=2),
            symbol="o",
            symbolSize=4,
            symbolBrush="#2ca02c",
            symbolPen=None,
        )
        self.log = QPlainTextEdit()
        self.log.setObjectName("trainingLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        # A traceback's long lines wrap inside the log, even where they have no spaces.
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.log.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
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
        column.addLayout(self.form)
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
        self.plots = QSplitter(Qt.Orientation.Horizontal)
        self.plots.setObjectName("trainingPlots")
        self.plots.setChildrenCollapsible(False)
        self.plots.addWidget(self.loss_plots)
        self.plots.addWidget(self.accuracy_plot)
        self.plots.addWidget(self.log)
        self.plots.setStretchFactor(0, 3)
        self.plots.setStretchFactor(1, 2)
        self.plots.setStretchFactor(2, 2)
        for widget in (self.loss_plots, self.accuracy_plot, self.log):
            widget.setMinimumWidth(120)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(left)
        layout.addWidget(self.plots, 1)
        self.set_service(None)

    # --- binding ------------------------------------------------------------------------

    def set_service(self, service) -> None:
        if self.signals is not None:
            self.signals.detach()
            self.signals.deleteLater()
            self.signals = None
        self.service = service
        self._build_form()
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

    def _build_form(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields = {}
        if self.service is None:
            return
        for field in self.service.config_fields():
            edit = QLineEdit(_format(field["default"]))
            edit.setMinimumWidth(60)
            edit.setObjectName(f"config_{field['name']}")
            if field.get("unset"):
                edit.setPlaceholderText(field["unset"])
            error = _error_label()
            edit.textChanged.connect(self._validate)
            box = QVBoxLayout()
            box.setSpacing(0)
            box.addWidget(edit)
            box.addWidget(error)
            self.form.addRow(field["label"], box)
            self.fields[field["name"]] = (field, edit, error)
        self._validate()

    # --- the form -----------------------------------------------------------------------

    def config(self) -> tuple[dict, dict[str, str]]:
        """The values typed in, and a message per field that is not even a number."""
        values, problems = {}, {}
        for name, (field, edit, _) in self.fields.items():
            if field.get("unset") and not edit.text().strip():
                values[name] = None
                continue
            try:
                values[name] = _parse(edit.text(), field["type"])
            except ValueError:
                problems[name] = _expected(field["type"])
        return values, problems

    def _validate(self) -> bool:
        if self.service is None:
            return False
        values, problems = self.config()
        if not problems:
            problems = self.service.validate(values)
        for name, (_, edit, error) in self.fields.items():
            message = problems.get(name, "")
            error.setText(message)
            error.setVisible(bool(message))
            edit.setStyleSheet("border: 1px solid #d62728;" if message else "")
        general = problems.get("config", "")
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
            self.config_error.setText(str(exc))
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
        self.epochs_done = []
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
            value = metrics.get(key)
            self.series[key].append(float("nan") if value is None else float(value))
        accuracy = metrics.get("accuracy")
        self._set_state(
            f"training: epoch {info.epoch} of {self._epochs}"
            + (f", accuracy {percent(accuracy)}" if accuracy is not None else "")
        )
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
        self._set_state(f"last run {status}")
        self._validate()

    def _on_log(self, info: LogLine) -> None:
        if info.run_id == self.run_id or self.run_id is None:
            self.log.appendPlainText(info.line)

    def _draw_curves(self) -> None:
        epochs, series = self.epochs_done, self.series
        if self.viewing_past:  # the run as recorded up to the position shown
            run = self.past_run
            epochs = list(run.epochs) if run is not None else []
            series = {
                key: [_number(m.get(key)) for m in run.metrics] if run is not None else []
                for key in self.curves
            }
        for key, curve in self.curves.items():
            values = series.get(key, [])
            if key in LOSS_KEYS:  # a log axis has no place for zero or less
                values = [v if v > 0 else float("nan") for v in values]
            curve.setData(epochs, values, connect="finite")

    def _set_running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)
        self.start_button.setEnabled(not running and bool(self.fields) and not self.viewing_past)
        for _, edit, _ in self.fields.values():
            edit.setReadOnly(running)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)


def _first_line(message: str, limit: int = 160) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _error_label() -> QLabel:
    label = wrapping_label("")
    label.setStyleSheet("color: #d62728;")
    label.hide()
    return label


def _format(value) -> str:
    if value is None:
        return ""
    return ", ".join(str(v) for v in value) if isinstance(value, (tuple, list)) else str(value)


def _parse(text: str, kind: str):
    if kind == "ints":
        return tuple(int(part) for part in text.replace(",", " ").split())
    if kind == "int":
        return int(text.strip())
    return float(text.strip())


def _expected(kind: str) -> str:
    return {
        "ints": "whole numbers separated by commas, e.g. 512, 256",
        "int": "a whole number",
        "float": "a number, e.g. 0.001",
    }[kind]


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
