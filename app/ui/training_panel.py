"""The training panel: the model's configuration form (validated inline by the
service), Start/Stop, the runner, a progress bar with ETA, live loss and accuracy
curves growing epoch by epoch, and the run's log.

It depends only on the ``TrainingService`` signals and methods; it holds no
training logic. Curves are redrawn at most ``REDRAW_MS`` apart however fast
epochs arrive.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
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
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.project.errors import ProjectError
from app.training.spec import EpochRecorded, LogLine, Progress, RunEnded, RunStarted
from app.ui.training_signals import TrainingSignals
from domain.errors import DomainError
from eventstore import StoreError

REDRAW_MS = 100
LOSS_CURVES = (("loss", "total loss", "#202020"), ("reconstruction", "reconstruction", "#1f77b4"),
               ("kl", "KL", "#ff7f0e"), ("classification", "classification", "#d62728"))
RUNNERS = (("process", "separate process (safe)"), ("thread", "in this window's process"))


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
        self.state = "training unavailable"

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
        self.eta = QLabel("")
        self.eta.setObjectName("trainingEta")

        self.loss_plot = pg.PlotWidget(background="w", title="Losses")
        self.loss_plot.addLegend(offset=(-5, 5))
        self.loss_plot.setLabel("bottom", "epoch")
        self.curves = {key: self.loss_plot.plot([], [], name=name, pen=pg.mkPen(colour, width=2), symbol="o",
                                                symbolSize=4, symbolBrush=colour, symbolPen=None)
                       for key, name, colour in LOSS_CURVES}
        self.accuracy_plot = pg.PlotWidget(background="w", title="Accuracy on labeled samples")
        self.accuracy_plot.setLabel("bottom", "epoch")
        self.accuracy_plot.setYRange(0, 1)
        self.curves["accuracy"] = self.accuracy_plot.plot([], [], pen=pg.mkPen("#2ca02c", width=2), symbol="o",
                                                          symbolSize=4, symbolBrush="#2ca02c", symbolPen=None)
        self.log = QPlainTextEdit()
        self.log.setObjectName("trainingLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self._redraw = QTimer(self, singleShot=True, interval=REDRAW_MS, timeout=self._draw_curves)

        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self.unavailable)
        column.addLayout(self.form)
        column.addWidget(self.config_error)
        row = QHBoxLayout()
        row.addWidget(QLabel("Runner"))
        row.addWidget(self.runner, 1)
        column.addLayout(row)
        column.addWidget(self.continue_run)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        column.addLayout(row)
        column.addWidget(self.progress)
        column.addWidget(self.eta)
        column.addStretch(1)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.accuracy_plot)
        plots.addWidget(self.log)
        # The form scrolls rather than making the window taller than the screen.
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(controls.sizeHint().width() + 24)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        layout.addWidget(plots, 1)
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
        self._set_state("training" if running else "idle")
        self._set_running(running)

    def _connections(self):
        s = self.signals
        return ((s.run_started, self._on_started), (s.progress, self._on_progress),
                (s.epoch_recorded, self._on_epoch), (s.run_ended, self._on_ended), (s.log_line, self._on_log))

    def _build_form(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields = {}
        if self.service is None:
            return
        for field in self.service.config_fields():
            edit = QLineEdit(_format(field["default"]))
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
            self._set_state("stopping…")

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

    def _on_progress(self, info: Progress) -> None:
        if info.run_id != self.run_id:
            return
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
        if accuracy is not None:
            self._set_state(f"training: epoch {info.epoch}, accuracy {accuracy:.0%}")
        if not self._redraw.isActive():
            self._redraw.start()

    def _on_ended(self, info: RunEnded) -> None:
        if info.run_id != self.run_id:
            return
        self._draw_curves()
        self._set_running(False)
        status, message = info.status, info.message
        self.eta.setText(f"{status}{': ' + message if message else ''}")
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
            series = {key: [_number(m.get(key)) for m in run.metrics] if run is not None else []
                      for key in self.curves}
        for key, curve in self.curves.items():
            curve.setData(epochs, series.get(key, []), connect="finite")

    def _set_running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)
        self.start_button.setEnabled(not running and bool(self.fields) and not self.viewing_past)
        for _, edit, _ in self.fields.values():
            edit.setReadOnly(running)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _error_label() -> QLabel:
    label = QLabel("")
    label.setStyleSheet("color: #d62728;")
    label.setWordWrap(True)
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
    return {"ints": "whole numbers separated by commas, e.g. 512, 256",
            "int": "a whole number", "float": "a number, e.g. 0.001"}[kind]


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
