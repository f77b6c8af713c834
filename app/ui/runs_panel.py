"""The Runs panel: every training run as a model, side by side (as ``ledgerlab runs``).

Selecting a run shows its curves; selecting several overlays them on the same axes, each
run its colour. "Use this run" makes its predictions drive the map colours, the viewer's
probabilities, ``U`` and the suggestions (``RunChosen``); Archive / Unarchive put failed
runs away (hidden unless "Show archived"); "Export model…" writes the selected run's
classifier as a bundle (also File → Export → Model…). Presets: the training form's
settings saved under a name (``PresetSaved``) and put back into the form later.

The rows come from ``app.quality.runs`` (Qt-free, shared with the CLI); decisions are
recorded there too. The panel computes no rule of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.project.errors import ProjectError
from app.quality import runs as model_runs
from domain.errors import DomainError
from domain.model_events import MODEL_EVENTS, PresetSaved
from domain.training_events import TRAINING_EVENTS
from eventstore import StoreError

COLUMNS = (
    "Run",
    "Status",
    "Started",
    "Epochs",
    "Duration",
    "Labels",
    "Final loss",
    "Accuracy",
    "Settings",
    "Continues",
    "Checkpoints",
)
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_RELEVANT = frozenset(e.type_name for e in (*TRAINING_EVENTS, *MODEL_EVENTS))
REFRESH_MS = 300  # a run's epochs arrive in bursts: the table is read again at most this often


class RunsPanel(QWidget):
    def __init__(self, window) -> None:
        super().__init__()
        self.main_window = window  # not `window`: QWidget.window() is a method
        self.project: Any = None
        self._log: model_runs.RunLog | None = None  # the log folded so far (read once)
        self._stale = False  # changed while hidden: read again when shown
        self.rows: list[model_runs.RunRow] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_selection)

        self.use_button = QPushButton("Use this run")
        self.use_button.setToolTip(
            "Its predictions drive the map colours, the probabilities, U and suggestions"
        )
        self.use_button.clicked.connect(self.use_selected)
        self.archive_button = QPushButton("Archive")
        self.archive_button.clicked.connect(self.toggle_archived)
        self.export_button = QPushButton("Export model…")
        self.export_button.clicked.connect(self.export_model)
        self.show_archived = QCheckBox("Show archived")
        self.show_archived.toggled.connect(lambda _: self.refresh())
        self.presets = QComboBox()
        self.presets.setObjectName("presetCombo")
        self.presets.setMinimumWidth(140)
        self.preset_name = QLineEdit()
        self.preset_name.setPlaceholderText("preset name")
        self.save_preset_button = QPushButton("Save settings")
        self.save_preset_button.setToolTip("Save the training form's settings under this name")
        self.save_preset_button.clicked.connect(self.save_preset)
        self.apply_preset_button = QPushButton("Put in form")
        self.apply_preset_button.setToolTip("Fill the training form with the chosen preset")
        self.apply_preset_button.clicked.connect(self.apply_preset)

        self.loss_plot = pg.PlotWidget(background="w")
        self.loss_plot.setTitle("total loss", color="#202020", size="9pt")
        self.accuracy_plot = pg.PlotWidget(background="w")
        self.accuracy_plot.setTitle("accuracy (held-out, else training)", size="9pt")
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setLabel("bottom", "epoch")
            plot.addLegend(offset=(-5, 5))
        self.accuracy_plot.setYRange(0, 1)
        self.curves: dict[str, str] = {}  # run id -> colour of the curves shown

        buttons = QHBoxLayout()
        for widget in (self.use_button, self.archive_button, self.export_button, self.show_archived):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        for preset_widget in (
            self.presets,
            self.apply_preset_button,
            self.preset_name,
            self.save_preset_button,
        ):
            buttons.addWidget(preset_widget)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.accuracy_plot)
        # Side by side: the dock is short at 1280×860 (about 190 px), and stacked the
        # table showed one run and the plots a sliver.
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(plots)
        split.setSizes([3000, 2000])  # in proportion: the table 3/5 of the width
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addLayout(buttons)
        column.addWidget(split, 1)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(REFRESH_MS)
        self._soon.timeout.connect(self.refresh)
        self._update_buttons()

    # -- following the project ------------------------------------------------------------
    def show_project(self, project) -> None:
        self.project, self._log = project, None
        self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def on_change(self, change) -> None:
        if any(e.type in _RELEVANT for e in change.events) and not self._soon.isActive():
            self._soon.start()

    def refresh(self) -> None:
        """Read the rows again, keeping the selected runs selected."""
        if not self.isVisible():  # a hidden tab costs nothing (a big log is read when shown)
            self._stale = True
            return
        self._stale = False
        selected = set(self.selected_ids())
        project = self.project
        if project is not None and self._log is None:
            self._log = model_runs.RunLog(project)
        archived = self.show_archived.isChecked()
        self.rows = [] if project is None else model_runs.run_rows(project, archived, self._log)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            marks = [t for t, on in (("drives", row.driving), ("archived", row.archived)) if on]
            cells = (
                row.run_id + (f"  ({', '.join(marks)})" if marks else ""),
                row.status,
                model_runs.iso(row.started_at).replace("T", " ")[:19],
                f"{row.epochs} (to {row.last_epoch})",
                model_runs.duration_text(row.duration),
                model_runs.labels_text(row),
                "—" if row.final_loss is None else f"{row.final_loss:.3f}",
                model_runs.accuracy_text(row),
                model_runs.settings_text(row.config),
                row.continued_from or "",
                ", ".join(map(str, row.checkpoints)),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, row.run_id)
                if row.driving:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
            if row.run_id in selected:
                self._add_to_selection(r)
        self.table.blockSignals(False)
        self._fill_presets()
        self._on_selection()

    def _add_to_selection(self, r: int) -> None:
        model = self.table.selectionModel()
        index = self.table.model().index(r, 0)
        model.select(index, model.SelectionFlag.Select | model.SelectionFlag.Rows)

    def _fill_presets(self) -> None:
        current = self.presets.currentText()
        names: list[str] = (
            [] if self.project is None else list(model_runs.training_of(self.project).choices.presets)
        )
        self.presets.blockSignals(True)
        self.presets.clear()
        self.presets.addItems(names)
        if current in names:
            self.presets.setCurrentText(current)
        self.presets.blockSignals(False)

    # -- selection and curves ---------------------------------------------------------------
    def selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.rows[r].run_id for r in rows if r < len(self.rows)]

    def select_runs(self, run_ids: list[str]) -> None:
        self.table.clearSelection()
        for r, row in enumerate(self.rows):
            if row.run_id in run_ids:
                self._add_to_selection(r)

    def _on_selection(self) -> None:
        self._draw_curves()
        self._update_buttons()

    def _draw_curves(self) -> None:
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.clear()
        self.curves = {}
        training = None if self.project is None else model_runs.training_of(self.project)
        for i, run_id in enumerate(self.selected_ids()):
            run = None if training is None else training.get(run_id)
            if run is None:
                continue
            colour = COLOURS[i % len(COLOURS)]
            self.curves[run_id] = colour
            pen = pg.mkPen(colour, width=2)
            epochs = list(run.epochs)
            losses = [m.get("loss") for m in run.metrics]
            shown = [(e, v) for e, v in zip(epochs, losses) if v is not None]
            if shown:
                self.loss_plot.plot(*zip(*shown), pen=pen, name=run_id)
            accuracy = [m.get("heldout_accuracy", m.get("accuracy")) for m in run.metrics]
            shown = [(e, v) for e, v in zip(epochs, accuracy) if v is not None]
            if shown:
                self.accuracy_plot.plot(*zip(*shown), pen=pen, name=run_id)

    def _update_buttons(self) -> None:
        chosen = self.selected_ids()
        one = len(chosen) == 1
        row = next((r for r in self.rows if one and r.run_id == chosen[0]), None)
        self.use_button.setEnabled(row is not None and not row.archived)
        self.archive_button.setEnabled(row is not None)
        self.archive_button.setText("Unarchive" if row is not None and row.archived else "Archive")
        self.export_button.setEnabled(row is not None and bool(row.checkpoints))
        self.apply_preset_button.setEnabled(self.presets.count() > 0)

    # -- decisions ----------------------------------------------------------------------------
    def _record(self, make) -> bool:
        project = self.main_window.project
        if project is None:
            return False
        try:
            event = make(project)
            if event is not None:
                model_runs.record(project, event)
        except (DomainError, ProjectError) as exc:
            self.main_window.show_error("That was not recorded", str(exc))
            return False
        except StoreError as exc:
            self.main_window.show_error("That was not recorded", f"{exc}; nothing was recorded")
            return False
        return True

    def use_selected(self) -> None:
        chosen = self.selected_ids()
        if len(chosen) == 1 and self._record(lambda p: model_runs.choice(p, chosen[0])):
            self.main_window.statusBar().showMessage(
                f"Run {chosen[0]} drives the map and the suggestions", 4000
            )

    def toggle_archived(self) -> None:
        chosen = self.selected_ids()
        row = next((r for r in self.rows if len(chosen) == 1 and r.run_id == chosen[0]), None)
        if row is not None:
            self._record(lambda p: model_runs.archiving(p, row.run_id, archive=not row.archived))

    def export_model(self) -> None:
        """File → Export → Model…: the selected run's (else the driving run's) classifier."""
        if self.main_window.project is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.main_window,
            "Export the model",
            str(Path.home() / "model.llmodel"),
            "Ledgerlab model (*.llmodel)",
        )
        if path:
            self.export_to(Path(path if path.endswith(".llmodel") else path + ".llmodel"))

    def export_to(self, path: Path) -> bool:
        from app.history.bundle import export_model

        chosen = self.selected_ids()
        try:
            log = self._log if self.project is self.main_window.project else None
            made = export_model(
                self.main_window.project, path, chosen[0] if len(chosen) == 1 else None, log=log
            )
        except ProjectError as exc:
            self.main_window.show_error("The model was not exported", str(exc))
            return False
        self.main_window.statusBar().showMessage(
            f"Wrote run {made.run_id}'s classifier (epoch {made.epoch}) to {path}", 6000
        )
        return True

    # -- presets ---------------------------------------------------------------------------------
    def _form(self):
        return getattr(getattr(self.main_window, "training", None), "settings_form", None)

    def save_preset(self) -> None:
        name, form = self.preset_name.text().strip(), self._form()
        if form is None:
            return
        values, problems = form.values()
        if not name or problems:
            why = "give the preset a name" if not name else "fix the training settings marked in red first"
            self.main_window.show_error("The settings were not saved", f"To save the settings, {why}.")
            return
        if self._record(lambda _p: PresetSaved(name, _json_safe(values))):
            self.preset_name.clear()
            self.presets.setCurrentText(name)

    def apply_preset(self) -> None:
        form, project = self._form(), self.project
        if form is None or project is None:
            return
        preset = model_runs.training_of(project).choices.presets.get(self.presets.currentText())
        if preset is None:
            return
        for name, (_, editor, _) in form.fields.items():
            if name not in preset:
                continue
            value = preset[name]
            if isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif value is None:
                editor.setText("")
            else:
                editor.setText(", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value))


def _json_safe(values: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def install_runs_panel(window) -> RunsPanel:
    """The Runs dock, tabbed with the history, following the window's project."""
    panel = RunsPanel(window)
    dock = QDockWidget("Runs", window)
    dock.setObjectName("runsDock")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    window.tabifyDockWidget(window.history_dock, dock)
    dock.setMinimumHeight(170)
    window.runs_dock = dock
    window.project_opened.connect(panel.show_project)
    window.project_changed.connect(panel.on_change)
    return panel
