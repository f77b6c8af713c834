"""The gallery of a multi-sample selection: one tile per selected sample (thumbnail,
number, label), the current one highlighted.

A tile leaves the selection before a bulk label by a click on its × (top right), or
by Delete or Backspace while the gallery has the focus (click a tile first); other
keys (class digits, arrows, Escape) stay with the labeling shortcuts. Captions follow
every label change without rebuilding the thumbnails.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QStyledItemDelegate

from app.ui.images import to_pixmap

ICON_PX = 56
LIMIT = 500  # thumbnails shown for a large selection; the title says how many there are
CLOSE_PX = 14
REMOVE_KEYS = (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
HINT = "× or Delete: drop this sample from the selection"


def close_rect(tile: QRect) -> QRect:
    """Where a tile's × is drawn (and clicked): its top right corner."""
    return QRect(tile.right() - CLOSE_PX - 1, tile.top() + 1, CLOSE_PX, CLOSE_PX)


class _TileDelegate(QStyledItemDelegate):
    """Draws each tile with its ×."""

    def paint(self, painter: QPainter, option, index) -> None:
        super().paint(painter, option, index)
        box = close_rect(option.rect)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255, 220))
        painter.drawEllipse(box)
        painter.setPen(QPen(QColor("#8b0000"), 1.6))
        inset = box.adjusted(4, 4, -4, -4)
        painter.drawLine(inset.topLeft(), inset.bottomRight())
        painter.drawLine(inset.topRight(), inset.bottomLeft())
        painter.restore()


class SelectionGallery(QListWidget):
    remove_requested = Signal(list)  # the samples to drop from the selection
    tile_clicked = Signal(int)  # a sample whose tile was clicked (outside its ×)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("selectionGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(ICON_PX, ICON_PX))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.setMovement(QListView.Movement.Static)
        # A click focuses the gallery for Delete; the labeling keys stay window shortcuts.
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setItemDelegate(_TileDelegate(self))
        self.setToolTip(HINT)
        self.itemClicked.connect(
            lambda item: self.tile_clicked.emit(int(item.data(Qt.ItemDataRole.UserRole)))
        )
        self.samples = np.zeros(0, dtype=np.int64)

    def show_samples(self, samples: np.ndarray, current: int | None, project) -> None:
        """Tiles for ``samples`` (the first ``LIMIT``), captions as ``project`` labels them."""
        samples = samples[:LIMIT]
        labels, names = project.labels.labels, project.info.class_names
        if not np.array_equal(samples, self.samples):
            self.samples = samples
            self.clear()
            images = project.images()
            for s in samples.tolist():
                item = QListWidgetItem(QIcon(to_pixmap(images.display(s), ICON_PX)), "")
                item.setData(Qt.ItemDataRole.UserRole, s)
                self.addItem(item)
        for row in range(self.count()):
            item = self.item(row)
            s = int(item.data(Qt.ItemDataRole.UserRole))
            caption = f"{s} {names[labels[s]] if 0 <= labels[s] < len(names) else '·'}"
            if item.text() != caption:
                item.setText(caption)
            item.setSelected(s == current)

    def forget(self) -> None:
        """The next ``show_samples`` builds every tile anew (another project shown)."""
        self.samples = np.zeros(0, dtype=np.int64)

    def captions(self) -> list[str]:
        return [self.item(row).text() for row in range(self.count())]

    def _cross_at(self, event) -> int | None:
        """The sample whose × is under the pointer of ``event``, if any."""
        pos = event.position().toPoint()
        item = self.itemAt(pos)
        if item is None or not close_rect(self.visualItemRect(item)).contains(pos):
            return None
        return int(item.data(Qt.ItemDataRole.UserRole))

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self._cross_at(event) is not None:
            event.accept()  # the × is no click on the tile: nothing is selected or shown
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        sample = self._cross_at(event)
        if sample is not None and event.button() == Qt.MouseButton.LeftButton:
            event.accept()
            self.remove_requested.emit([sample])
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self._cross_at(event) is None:
            super().mouseDoubleClickEvent(event)

    def event(self, event) -> bool:
        # Delete and Backspace are the window's "remove label" keys; while the gallery has
        # the focus they drop the selected tiles instead.
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in REMOVE_KEYS:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.key() in REMOVE_KEYS:
            chosen = [int(item.data(Qt.ItemDataRole.UserRole)) for item in self.selectedItems()]
            if chosen:
                self.remove_requested.emit(chosen)
            event.accept()
            return
        super().keyPressEvent(event)
