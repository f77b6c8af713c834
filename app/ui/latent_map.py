"""The latent map: every sample a point, coloured by its label (or, faintly, by the
model's prediction when unlabeled). Click selects the nearest point, a rectangle or
lasso selects many, the wheel zooms, a drag pans, hovering shows the image."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.quality import review as quality
from app.ui import palette
from app.ui.images import to_pixmap
from app.ui.map_view_box import LASSO, PAN, RECTANGLE, MapViewBox, inside_polygon, normalised, placed_over
from app.ui.point_cloud import PointCloud

CLICK_RADIUS_PX = 30  # a click further than this from every point selects nothing
HOVER_RADIUS_PX = 10
THUMBNAIL_PX = 96
BY_LABEL, BY_PREDICTION, BY_MISMATCH = "label", "prediction", "mismatch"
MARK_PX = 11
_QUALITY_TYPES = frozenset({"SuggestionsMade", "LabelIssuesFlagged", "LabelIssueDismissed"})
LEGEND_COLUMNS = 6  # legend entries per row when class names are longer than a digit or two
LEGEND_MOST = 24  # with more classes than this, the legend names the first ones and a count
UNTRAINED_NOTE = "pixel PCA — not clustered by class yet"


class LatentMapView(QWidget):
    def __init__(self, selection, predictions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.selection = selection
        self.predictions = predictions
        self.project: Any = None  # the project shown (live, or as of a position)
        self.colour_mode = BY_LABEL
        self._class_count = 0
        self.hover_sample: int | None = None
        self.source_map: np.ndarray | None = None  # the map shown, as recorded (before placing)
        self.new_map_waiting = False  # pinned: a newer map than the one shown exists

        self.view_box = MapViewBox()
        self.plot = pg.PlotWidget(viewBox=self.view_box, background="w")
        self.plot.setObjectName("latentMap")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        # A map's coordinates have no unit: plain numbers, the same scale on both axes.
        for side in ("bottom", "left"):
            self.plot.getPlotItem().getAxis(side).enableAutoSIPrefix(False)
        self.view_box.setAspectLocked(True, 1.0)
        # What the map is, in the map itself (a widget over the plot, not an item in it:
        # items are repainted with the points).
        self.note = QLabel(UNTRAINED_NOTE, self.plot)
        self.note.setObjectName("mapNote")
        self.note.setStyleSheet(
            "background: rgba(255, 255, 255, 220); color: #5c4400; "
            "border: 1px solid #d4a106; padding: 3px 6px;"
        )
        self.note.adjustSize()
        self.note.move(56, 8)
        self.note.hide()
        self.points = PointCloud()
        self.plot.addItem(self.points)
        # Flagged labels (red crosses) and the suggestion queue (rings): few points each,
        # plain scatter items above the cloud.
        self.flag_marks = pg.ScatterPlotItem(
            size=MARK_PX, symbol="x", pen=pg.mkPen("#d00000", width=2), brush=None, pxMode=True
        )
        self.queue_marks = pg.ScatterPlotItem(
            size=MARK_PX + 3, symbol="o", pen=pg.mkPen("#111111", width=1.5), brush=None, pxMode=True
        )
        for marks in (self.flag_marks, self.queue_marks):
            marks.setZValue(10)
            self.plot.addItem(marks)
        self.marked_flags = np.zeros(0, dtype=np.int64)
        self.marked_queue = np.zeros(0, dtype=np.int64)
        self._marks_shown: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # per marks item: (xy, samples)
        # The legend is a row of widgets under the plot, not a pyqtgraph item: items
        # inside the plot are repainted with the points on every label.
        self.legend = QWidget()
        self.legend.setObjectName("mapLegend")
        # A grid, so that longer class names wrap to a second row instead of being cut.
        self.legend_row = QGridLayout(self.legend)
        self.legend_row.setContentsMargins(4, 0, 4, 0)
        self.legend_row.setHorizontalSpacing(10)
        self.legend_row.setVerticalSpacing(0)

        self.hover = QLabel(self.plot)
        self.hover.setObjectName("hoverThumbnail")
        self.hover.setStyleSheet("background: white; border: 1px solid #888; padding: 2px;")
        self.hover.hide()
        self._hover_proxy = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._hovered)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._toolbar())
        self.pin.toggled.connect(lambda _: self.update_marks())  # after the map it may show
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.legend)

        self.view_box.clicked.connect(self._clicked)
        self.view_box.region_selected.connect(self._region_selected)
        selection.changed.connect(self._selection_changed)

    def _toolbar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        self.modes = QButtonGroup(self)
        for mode, text, tip in (
            (PAN, "Pan", "Drag to pan, wheel to zoom"),
            (RECTANGLE, "Rectangle", "Drag a rectangle to select (or Shift+drag in any mode)"),
            (LASSO, "Lasso", "Draw round the points to select (or Ctrl+drag in any mode)"),
        ):
            button = QToolButton(text=text, checkable=True, toolTip=tip)
            button.setObjectName(f"mode_{mode}")
            button.setChecked(mode == PAN)
            button.clicked.connect(lambda _=False, m=mode: setattr(self.view_box, "mode", m))
            self.modes.addButton(button)
            bar.addWidget(button)
        fit = QToolButton(text="Fit", toolTip="Show all points")
        fit.clicked.connect(lambda: self.view_box.enableAutoRange())
        bar.addWidget(fit)
        self.pin = QToolButton(text="Pin", checkable=True)
        self.pin.setObjectName("pinLayout")
        self.pin.setToolTip(
            "Pin the layout: keep the points where they are while training draws "
            "new maps; unpin to see the newest map"
        )
        self.pin.toggled.connect(self._pin_toggled)
        bar.addWidget(self.pin)
        bar.addStretch(1)
        bar.addWidget(QLabel("Colour by"))
        self.colour_choice = QComboBox()
        self.colour_choice.setObjectName("colourBy")
        self.colour_choice.addItem("assigned label", BY_LABEL)
        self.colour_choice.addItem("label, else prediction", BY_PREDICTION)
        self.colour_choice.addItem("label ≠ prediction", BY_MISMATCH)
        self.colour_choice.currentIndexChanged.connect(
            lambda _: self.set_colour_mode(self.colour_choice.currentData())
        )
        bar.addWidget(self.colour_choice)
        return bar

    # --- binding to the project ---------------------------------------------------------

    def show_project(self, project) -> None:
        """Everything from scratch: positions, colours, legend."""
        self.project = project
        self.source_map = None
        self._show_map(project.latent_map(), fresh=True)
        if self.source_map is None:
            self.points.set_positions(np.zeros((project.info.sample_count, 2)))
        self._recolour_all()
        self._rebuild_legend()
        self.update_marks()
        # Fit the points, and keep fitting new maps until the person zooms or pans.
        self.view_box.autoRange()  # now (it also turns auto-ranging off) …
        self.view_box.enableAutoRange()  # … and on again, for the maps to come

    def show_state(self, project, change, new_predictions: bool = False) -> None:
        """Show ``project`` (another moment of the same project) by redrawing what
        ``change`` says differs from the one shown; the zoom and selection stay."""
        self.project = project
        if change.map_changed:  # asked for by the person: shown even when pinned
            self._show_map(project.latent_map())
        self.apply_change(change, new_predictions, map_shown=True)
        self.update_marks()  # the flags and queue of that moment (the change lists no events)

    def apply_change(self, change, new_predictions: bool = False, map_shown: bool = False) -> None:
        """Redraw only what ``change`` touched."""
        project = self.project
        if project is None:
            return
        if change.map_changed and not map_shown:
            if self.pin.isChecked():
                self._new_map_waits(True)
            else:
                self._show_map(project.latent_map())
        if change.classes_changed:
            self._rebuild_legend()
        if change.classes_changed or (self.colour_mode != BY_LABEL and new_predictions):
            self._recolour_all()
        elif change.samples:
            samples = np.fromiter(change.samples, dtype=np.int64, count=len(change.samples))
            labels = project.labels.labels
            self.points.recolour(samples, self._colour_index(labels, samples))
        if change.map_changed or change.samples or any(e.type in _QUALITY_TYPES for e in change.events):
            self.update_marks()

    def update_marks(self) -> None:
        """Cross the open flags and ring the suggestion queue (few points: redrawn whole)."""
        project = self.project
        xy = self.points.positions()
        if project is None or not len(xy):
            return
        self.marked_flags = np.array([f.sample for f in quality.open_flags(project)], dtype=np.int64)
        self.marked_queue = np.array([s.sample for s in quality.queue(project)], dtype=np.int64)
        for marks, samples in ((self.flag_marks, self.marked_flags), (self.queue_marks, self.marked_queue)):
            samples = samples[samples < len(xy)]
            shown = self._marks_shown.get(id(marks))
            if shown is not None and shown[0] is xy and np.array_equal(shown[1], samples):
                continue  # unchanged (most key presses): setData would repaint the whole map
            self._marks_shown[id(marks)] = (xy, samples)
            marks.setData(pos=xy[samples], data=samples)

    # --- a map that holds still ---------------------------------------------------------

    def _show_map(self, coords, fresh: bool = False) -> None:
        """Show ``coords`` placed over the map on screen (turned, mirrored, scaled and moved
        to fit it best), so successive maps of a run, and of later runs, hold still;
        ``fresh`` (another project) starts a new layout. The selection is by sample: it stays."""
        if coords is None:
            return
        self.source_map = np.asarray(coords)
        shown = None if fresh or not len(self.points.positions()) else self.points.positions()
        self.points.set_positions(placed_over(coords, shown) if shown is not None else normalised(coords))
        self._new_map_waits(False)
        self._show_note()

    def _show_note(self) -> None:
        ref = self.project.state.latent_map.current if self.project is not None else None
        self.note.setVisible(ref is not None and ref.run_id is None)

    def _new_map_waits(self, waiting: bool) -> None:
        self.new_map_waiting = waiting
        self.pin.setText("Pinned: new map ready" if waiting else "Pin")

    def _pin_toggled(self, pinned: bool) -> None:
        if not pinned and self.new_map_waiting and self.project is not None:
            self._show_map(self.project.latent_map())

    def set_colour_mode(self, mode: str) -> None:
        self.colour_mode = mode
        if self.project is not None:
            self._recolour_all()

    def _recolour_all(self) -> None:
        project = self.project
        classes = palette.class_colours(len(project.info.class_names))
        self._class_count = len(classes)
        colours = palette.packed([*classes, palette.UNLABELED, *(palette.faint(c) for c in classes)])
        labels = project.labels.labels
        self.points.set_colours(colours, len(classes), self._colour_index(labels, np.arange(len(labels))))

    def _colour_index(self, labels: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """Per sample: its class (solid), else its predicted class (faint), else grey."""
        count = self._class_count
        index = labels[samples].astype(np.int32)
        unlabeled = index < 0
        index[unlabeled] = count
        predictions = self.predictions.get() if self.colour_mode != BY_LABEL else None
        if predictions is None or predictions.shape[1] != count:
            return index
        if self.colour_mode == BY_MISMATCH:
            # Solid where the label and the prediction differ, faint where they agree.
            labeled = ~unlabeled
            agree = np.argmax(predictions[samples[labeled]], axis=1) == index[labeled]
            index[np.flatnonzero(labeled)[agree]] += count + 1
            return index
        index[unlabeled] = count + 1 + np.argmax(predictions[samples[unlabeled]], axis=1)
        return index

    def _rebuild_legend(self) -> None:
        while self.legend_row.count():
            item = self.legend_row.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        names = self.project.info.class_names
        entries: list[tuple[str, QColor | None]] = [*zip(names, palette.class_colours(len(names)))]
        if len(entries) > LEGEND_MOST:  # hundreds of classes: the first ones and a count
            rest = len(entries) - (LEGEND_MOST - 1)
            entries = [*entries[: LEGEND_MOST - 1], (f"… {rest:,} more classes", None)]
        entries.append(("unlabeled", palette.UNLABELED))
        short = all(len(name) <= 3 for name in names)  # "0".."9" fit on one row
        columns = len(entries) if short else LEGEND_COLUMNS
        for column in range(self.legend_row.columnCount()):
            self.legend_row.setColumnStretch(column, 0)
        for i, (name, colour) in enumerate(entries):
            dot = "" if colour is None else f'<span style="color:{colour.name()}; font-size:14pt">●</span> '
            entry = QLabel(f"{dot}{html.escape(name)}")
            entry.setObjectName("legendEntry")
            self.legend_row.addWidget(entry, i // columns, i % columns)
        self.legend_row.setColumnStretch(min(columns, len(entries)), 1)

    # --- selecting ----------------------------------------------------------------------

    def nearest(self, x: float, y: float, radius_px: float) -> int | None:
        """The sample drawn nearest to data point (x, y), if within ``radius_px`` pixels."""
        xy = self.points.positions()
        if not len(xy):
            return None
        px, py = self.view_box.viewPixelSize()
        d2 = ((xy[:, 0] - x) / px) ** 2 + ((xy[:, 1] - y) / py) ** 2
        best = int(np.argmin(d2))
        return best if d2[best] <= radius_px**2 else None

    def _clicked(self, pos) -> None:
        sample = self.nearest(pos.x(), pos.y(), CLICK_RADIUS_PX)
        if sample is not None:
            self.selection.select_one(sample)

    def _region_selected(self, polygon: np.ndarray, additive: bool) -> None:
        chosen = np.flatnonzero(inside_polygon(self.points.positions(), polygon))
        if additive:
            chosen = np.union1d(chosen, self.selection.samples)
        if chosen.size:
            self.selection.select(chosen)
        else:
            self.selection.clear()

    def _selection_changed(self) -> None:
        self.points.set_selection(self.selection.samples, self.selection.current)

    # --- hovering -----------------------------------------------------------------------

    def _hovered(self, args) -> None:
        scene_pos = args[0]
        project = self.project
        if project is None or not self.view_box.sceneBoundingRect().contains(scene_pos):
            self.hover.hide()
            return
        pos = self.view_box.mapSceneToView(scene_pos)
        sample = self.nearest(pos.x(), pos.y(), HOVER_RADIUS_PX)
        self.hover_sample = sample
        if sample is None:
            self.hover.hide()
            return
        label = int(project.labels.labels[sample])
        name = project.info.class_names[label] if label >= 0 else "unlabeled"
        self.hover.setPixmap(to_pixmap(project.images().display(sample), THUMBNAIL_PX))
        self.hover.setToolTip(f"sample {sample:,} · {name}")
        self.hover.adjustSize()
        where = self.plot.mapFromScene(scene_pos) + QPoint(14, 14)
        # Keep the thumbnail inside the plot.
        where.setX(min(where.x(), self.plot.width() - self.hover.width()))
        where.setY(min(where.y(), self.plot.height() - self.hover.height()))
        self.hover.move(where)
        self.hover.show()

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.hover.hide()
        super().leaveEvent(event)
