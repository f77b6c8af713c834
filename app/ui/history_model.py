"""The event table's model: one row per event (oldest first), read a page at a time.

A log can hold millions of events. ``rowCount`` is the count the history reports
(one query, or one index lookup when filtered), so the scroll bar spans the whole
log, while rows are read only when a view asks for them: a page of ``PAGE_ROWS``
around the row, kept in a small cache keyed by page. Scrolling anywhere costs one
page read; nothing ever reads the whole log.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

PAGE_ROWS = 200
PAGES_KEPT = 32  # ~6,400 rows: a screenful and the scroll-back around it
COLUMNS = ("Position", "Time", "Annotator", "Type", "Summary")


class HistoryTableModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._history: Any = None  # an app.history.timeline.History once a project is shown
        self._type: str | None = None
        self._annotator: str | None = None
        self._count = 0
        self._pages: OrderedDict[int, list] = OrderedDict()
        self.pages_read = 0  # how many pages were read from the store (tests, benchmarks)

    # --- binding and filtering ----------------------------------------------------------
    def set_history(self, history) -> None:
        self.beginResetModel()
        self._history, self._type, self._annotator = history, None, None
        self._reload()
        self.endResetModel()

    def set_filter(self, type_name: str | None, annotator: str | None) -> None:
        if (type_name, annotator) == (self._type, self._annotator):
            return
        self.beginResetModel()
        self._type, self._annotator = type_name, annotator
        self._reload()
        self.endResetModel()

    @property
    def history(self):
        return self._history

    @property
    def filtered(self) -> bool:
        return self._type is not None or self._annotator is not None

    def grow(self) -> None:
        """New events were recorded: add their rows at the end (the rest stay)."""
        if self._history is None:
            return
        count = self._history.count(self._type, self._annotator)
        if count <= self._count:
            return
        self._pages.pop((self._count - 1) // PAGE_ROWS, None)  # the last page was partial
        self.beginInsertRows(QModelIndex(), self._count, count - 1)
        self._count = count
        self.endInsertRows()

    def _reload(self) -> None:
        self._pages.clear()
        self._count = 0 if self._history is None else self._history.count(self._type, self._annotator)

    # --- rows ---------------------------------------------------------------------------
    def row(self, row: int):
        """The ``HistoryRow`` shown at ``row`` (its page is read if needed)."""
        page_index, offset = divmod(row, PAGE_ROWS)
        page = self._pages.get(page_index)
        if page is None:
            page = self._history.rows(page_index * PAGE_ROWS, PAGE_ROWS, self._type, self._annotator)
            self.pages_read += 1
            self._pages[page_index] = page
            while len(self._pages) > PAGES_KEPT:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_index)
        return page[offset] if offset < len(page) else None

    def cached_rows(self) -> int:
        return sum(len(page) for page in self._pages.values())

    def position_at(self, row: int) -> int | None:
        found = self.row(row) if 0 <= row < self._count else None
        return None if found is None else found.position

    def row_of(self, position: int) -> int:
        """The row of the last shown event at or before ``position`` (0 if none)."""
        if self._count == 0:
            return 0
        if not self.filtered:  # positions have no gaps: row = position - 1
            return max(0, min(self._count - 1, position - 1))
        low, high = 0, self._count - 1  # rows are in position order: bisect on them
        while low < high:
            middle = (low + high + 1) // 2
            at = self.position_at(middle)
            if at is not None and at <= position:
                low = middle
            else:
                high = middle - 1
        return low

    # --- QAbstractTableModel ------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008 (Qt's names)
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        found = self.row(index.row())
        if found is None:
            return None
        column = index.column()
        if column == 0:
            return f"{found.position:,}"
        if column == 1:
            return datetime.fromtimestamp(float(found.time)).strftime("%Y-%m-%d %H:%M:%S")
        if column == 2:
            return found.annotator
        if column == 3:
            return found.type
        return found.summary
