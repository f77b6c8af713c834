"""A label key repaints the pixels round the changed point, not the whole map (at a
million points a whole repaint is what made a key press slow)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QRegion

from tests.gui.conftest import point_on_screen


class PaintedRegions(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.region = QRegion()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            self.region = self.region.united(event.region())
        return False


def test_a_label_key_repaints_only_round_the_point_and_the_moved_ring(qtbot, workbench):
    window = workbench.window
    map_view = window.map_view
    viewport = map_view.plot.viewport()
    window.selection.select_one(40)
    qtbot.wait(20)
    viewport.repaint()
    painted = PaintedRegions()
    viewport.installEventFilter(painted)
    try:
        qtbot.keyClick(window, Qt.Key.Key_4)
        qtbot.waitUntil(lambda: not painted.region.isEmpty(), timeout=2_000)
        qtbot.wait(50)
    finally:
        viewport.removeEventFilter(painted)
    assert workbench.project.labels.label_of(40) == 4
    assert painted.region.contains(point_on_screen(map_view, 40))
    assert painted.region.contains(point_on_screen(map_view, 41))  # the ring moved on
    whole = viewport.rect().width() * viewport.rect().height()
    box = painted.region.boundingRect()
    assert box.width() * box.height() < whole / 2
