"""The history panel: the event table (filterable by type and annotator), a time
slider over global positions, playback, "Back to now" and "Branch from here", and
the banner the window shows while it shows the past.

The panel only moves the ``TimeTravel``; the window redraws the views.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.ui.history_model import HistoryTableModel
from app.ui.time_travel import SPEEDS

ALL = "(all)"
TABLE_FOLLOWS_MS = 120  # the table scrolls to the slider once a drag or playback rests this long
GROWS_AFTER_MS = 100  # new rows are added at most this often, after the views showed the change


NOW_STYLE = (
    "#timeBanner { background: #eef2f6; border: 1px solid #d5dbe1; }#timeBanner QLabel { color: #4a5560; }"
)
PAST_STYLE = (
    "#timeBanner { background: #fff3cd; border: 1px solid #d4a106; }"
    "#timeBanner QLabel { color: #5c4400; font-weight: bold; }"
)


class TimeBanner(QFrame):
    """Which moment the views show. Always there (so nothing below it moves when the past
    is shown): a quiet "now" line, or "Viewing the project as of position P (time) —
    read-only" with "Back to now"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeBanner")
        self.past = False
        self.text = QLabel("")
        self.text.setObjectName("timeBannerText")
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.back = QPushButton("Back to now")
        self.back.setObjectName("bannerBackToNow")
        policy = self.back.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.back.setSizePolicy(policy)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 2, 8, 2)
        row.addWidget(self.text, 1)
        row.addWidget(self.back)
        self.show_position(None, None)

    def show_position(self, position: int | None, when: float | None) -> None:
        past = position is not None
        if past != self.past or not self.styleSheet():  # restyling costs a repolish: only on a change
            self.setStyleSheet(PAST_STYLE if past else NOW_STYLE)
            self.back.setVisible(past)
        self.past = past
        if position is None:
            self.text.setText(
                "Showing now. The History tab's slider shows the project as it was at any moment."
            )
            return
        at = "" if when is None else f" ({datetime.fromtimestamp(when).strftime('%Y-%m-%d %H:%M:%S')})"
        self.text.setText(f"Viewing the project as of position {position:,}{at} — read-only")


class HistoryPanel(QWidget):
    branch_requested = Signal(int)  # the position to branch from

    def __init__(self, travel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.travel = travel
        self.model = HistoryTableModel(self)
        self._following_row = False
        # Scrolling the table reads a page and repaints every visible cell; done on each
        # step of a drag or of playback it would cost more than the views themselves.
        self._follow_soon = QTimer(
            self,
            singleShot=True,
            interval=TABLE_FOLLOWS_MS,
            timeout=lambda: self._follow(self.shown_position()),
        )
        # A label must reach the map first (p99 <= 16 ms); the table and the slider's
        # length follow a moment later, once for a burst of events.
        self.log_grew_soon = QTimer(self, singleShot=True, interval=GROWS_AFTER_MS, timeout=self.log_grew)

        self.type_filter = QComboBox(objectName="historyTypeFilter")
        self.annotator_filter = QComboBox(objectName="historyAnnotatorFilter")
        for combo in (self.type_filter, self.annotator_filter):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.currentIndexChanged.connect(self._filter_changed)
        self.status = QLabel("", objectName="historyStatus")
        self.table = QTableView(objectName="historyTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # digits keep labeling
        self.table.verticalHeader().hide()
        # Fixed row heights and column widths: Qt would otherwise measure every row of a
        # million-row model to size them (and read every page to do it).
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(20)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((80, 140, 90, 140)):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        self.table.clicked.connect(self._row_clicked)

        self.slider = QSlider(Qt.Orientation.Horizontal, objectName="timeSlider")
        self.slider.setRange(1, 1)
        self.slider.setToolTip("Drag to see the project as it was at any position of its history")
        self.slider.valueChanged.connect(self._slider_moved)
        self.where = QLabel("now", objectName="timePosition")
        self.play_button = QPushButton("▶ Play", objectName="historyPlay")
        self.play_button.clicked.connect(self._play_clicked)
        self.speed = QComboBox(objectName="historySpeed")
        for text, value in SPEEDS:
            self.speed.addItem(text, value)
        self.speed.setCurrentIndex(1)
        self.speed.currentIndexChanged.connect(lambda _: travel.set_speed(self.speed.currentData()))
        self.back_button = QPushButton("Back to now", objectName="historyBackToNow")
        self.back_button.clicked.connect(travel.back_to_now)
        self.branch_button = QPushButton("Branch from here…", objectName="historyBranch")
        self.branch_button.setToolTip("A new project file holding the history up to the position shown")
        self.branch_button.clicked.connect(lambda: self.branch_requested.emit(self.shown_position()))

        filters = QHBoxLayout()
        filters.addWidget(QLabel("Type"))
        filters.addWidget(self.type_filter)
        filters.addWidget(QLabel("Annotator"))
        filters.addWidget(self.annotator_filter)
        filters.addStretch(1)
        filters.addWidget(self.status)
        time_row = QHBoxLayout()
        time_row.addWidget(self.slider, 1)
        time_row.addWidget(self.where)
        time_row.addWidget(self.play_button)
        time_row.addWidget(self.speed)
        time_row.addWidget(self.back_button)
        time_row.addWidget(self.branch_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(time_row)

        travel.viewing.connect(self._viewing)
        travel.playing_changed.connect(lambda on: self.play_button.setText("■ Stop" if on else "▶ Play"))
        self.set_ready(False)

    # --- binding ------------------------------------------------------------------------
    def set_ready(self, ready: bool, message: str = "") -> None:
        """Until the history is prepared (snapshots, filter index), only its progress shows."""
        for widget in (
            self.table,
            self.slider,
            self.play_button,
            self.speed,
            self.type_filter,
            self.annotator_filter,
            self.branch_button,
        ):
            widget.setEnabled(ready)
        self.status.setText(message)

    def show_history(self, history) -> None:
        """The prepared history of the open project: fill the table, filters and slider
        (None: a project is opening and its history is being prepared)."""
        self.model.set_history(history)
        if history is None:
            self.log_grew_soon.stop()
            self._follow_soon.stop()
            self.set_ready(False, "Preparing the history…")
            return
        self._fill(self.type_filter, history.types())
        self._fill(self.annotator_filter, history.annotators())
        self.set_ready(True)
        self.log_grew()

    def _fill(self, combo: QComboBox, values) -> None:
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(ALL, None)
        for value in values:
            combo.addItem(value, value)
        combo.setCurrentIndex(max(0, combo.findData(current)) if current is not None else 0)
        combo.blockSignals(False)

    def log_grew(self) -> None:
        """New events arrived: more rows and a longer slider; the shown position stays."""
        history = self.model.history
        if history is None:
            return
        self.model.grow()
        head = self.travel.head()
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(1, head))
        if not self.travel.in_past:
            self.slider.setValue(head)
        self.slider.blockSignals(False)
        for combo, values in (
            (self.type_filter, history.types()),
            (self.annotator_filter, history.annotators()),
        ):
            if combo.count() - 1 != len(values):
                self._fill(combo, values)
        self._show_where(self.travel.position)

    def shown_position(self) -> int:
        return self.travel.position if self.travel.in_past else self.travel.head()

    # --- reacting -----------------------------------------------------------------------
    def _filter_changed(self) -> None:
        self.model.set_filter(self.type_filter.currentData(), self.annotator_filter.currentData())
        self._follow(self.shown_position())

    def _row_clicked(self, index) -> None:
        position = self.model.position_at(index.row())
        if position is not None:
            self._following_row = True  # the row is already where the person looks
            self.slider.setValue(position)
            self._following_row = False
            self.travel.request(position)

    def _slider_moved(self, value: int) -> None:
        self._show_where(value)
        if not self._following_row:
            self.travel.request(value)

    def _play_clicked(self) -> None:
        if self.travel.is_playing():
            self.travel.stop()
        else:
            self.travel.set_speed(self.speed.currentData())
            self.travel.play()

    def _viewing(self, position) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self.travel.head() if position is None else position)
        self.slider.blockSignals(False)
        self._show_where(position)
        self.back_button.setEnabled(position is not None)
        self._follow_soon.start()

    def _follow(self, position: int) -> None:
        """Scroll the table to (and mark) the row of ``position``."""
        if self.model.rowCount() == 0:
            return
        row = self.model.row_of(position)
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index,
            self.table.selectionModel().SelectionFlag.ClearAndSelect
            | self.table.selectionModel().SelectionFlag.Rows,
        )
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def _show_where(self, position) -> None:
        self.where.setText("now" if position is None else f"position {position:,} of {self.travel.head():,}")
        self.back_button.setEnabled(self.travel.in_past)
