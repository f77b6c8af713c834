"""The map's points at 50,000: a recolour changes exactly the pixels of the changed point,
a pan shows the same pixels shifted (drawn at once, or first as the kept raster moved and
then redrawn when the view rests), and the many-points raster path paints what writing
every point one after another would."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF

from app.ui import palette
from app.ui.map_view_box import MapViewBox
from app.ui.point_cloud import PointCloud

N = 50_000
RED, GREY = 0xFFD00000, 0xFFB0B0B0


@pytest.fixture
def cloud(qtbot):
    view_box = MapViewBox()
    plot = pg.PlotWidget(viewBox=view_box, background="w")
    plot.resize(700, 500)
    points = PointCloud()
    plot.addItem(points)
    rng = np.random.default_rng(0)
    points.set_positions(rng.uniform(0, 1, size=(N, 2)))
    points.set_colours(np.array([RED, GREY], dtype=np.uint32), 1, np.ones(N, dtype=np.int32))
    view_box.setAspectLocked(True, 1.0)
    view_box.autoRange()
    qtbot.addWidget(plot)
    plot.show()
    qtbot.waitExposed(plot)
    return plot, view_box, points


def pixels(plot) -> np.ndarray:
    image = plot.grab().toImage().convertToFormat(pg.QtGui.QImage.Format.Format_RGB32)
    rows = np.frombuffer(image.constBits(), dtype=np.uint32).reshape(image.height(), -1)
    return rows[:, : image.width()].copy()


def on_screen(plot, view_box, points, sample: int) -> tuple[int, int]:
    x, y = points.positions()[sample]
    where = plot.mapFromScene(view_box.mapViewToScene(QPointF(float(x), float(y))))
    return where.x(), where.y()


def inner(plot, view_box, margin: int = 25) -> tuple[slice, slice]:
    """The plot area (no axes), less ``margin`` pixels each side."""
    rect = plot.mapFromScene(view_box.sceneBoundingRect()).boundingRect()
    return (
        slice(rect.top() + margin, rect.bottom() - margin),
        slice(rect.left() + margin, rect.right() - margin),
    )


def test_a_label_recolours_exactly_the_labeled_point(cloud):
    plot, view_box, points = cloud
    before, renders = pixels(plot), points.full_renders
    sample = 1234

    points.recolour(np.array([sample]), np.array([0]))
    after = pixels(plot)

    assert points.full_renders == renders  # stamped into the kept raster, not redrawn
    x, y = on_screen(plot, view_box, points, sample)
    assert after[y, x] & 0xFFFFFF == RED & 0xFFFFFF
    changed_y, changed_x = np.nonzero(after != before)
    assert len(changed_x) > 0
    assert np.all((changed_x - x) ** 2 + (changed_y - y) ** 2 <= 8)  # the dot's disc, nothing else


@pytest.mark.parametrize("moved_first", [False, True])
def test_a_pan_shows_the_same_points_shifted(qtbot, cloud, moved_first):
    plot, view_box, points = cloud
    if moved_first:
        points.defer_above = 0  # behave as with a million points
    rows, columns = inner(plot, view_box)
    before = pixels(plot)
    px, py = view_box.viewPixelSize()
    renders = points.full_renders

    view_box.translateBy(x=-20 * px, y=0)  # the points move 20 pixels right
    after = pixels(plot)

    shifted = after[rows, columns.start + 20 : columns.stop + 20]
    assert np.mean(shifted == before[rows, columns]) > 0.995
    if moved_first:
        assert points.full_renders == renders  # the frame of the drag moved the kept raster
        qtbot.waitUntil(lambda: points.full_renders == renders + 1, timeout=2_000)  # redrawn at rest
        settled = pixels(plot)
        points.defer_above = N  # the same view drawn from scratch at once
        points.set_colours(np.array([RED, GREY], dtype=np.uint32), 1, np.ones(N, dtype=np.int32))
        assert np.array_equal(pixels(plot), settled)
        assert points.full_renders == renders + 2


def test_many_points_paint_as_if_written_one_after_another(cloud):
    plot, view_box, points = cloud
    colours = np.array([RED, 0xFF00A000, 0xFF0000D0, GREY], dtype=np.uint32)
    index = np.random.default_rng(1).integers(0, 4, size=N).astype(np.int32)
    points.set_colours(colours, 1, index)  # red solid, the rest faint
    plot.resize(300, 220)
    pixels(plot)  # drawn (50,000 points over ~60,000 pixels: the dense path)

    buffer, stride = points._buffer, points._stride  # noqa: SLF001 -- checking the raster itself
    width, height = points._key[0], points._key[1]  # noqa: SLF001
    expected = np.full(buffer.size, np.uint32(palette.BACKGROUND.rgb()) | 0xFF000000, dtype=np.uint32)
    pixel = np.rint(points._device_xy).astype(np.int64)  # noqa: SLF001
    solid_disc = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3) if dx * dx + dy * dy <= 5]
    faint_square = [(dx, dy) for dx in range(-1, 2) for dy in range(-1, 2)]
    inside = (pixel[:, 0] >= 0) & (pixel[:, 0] < width) & (pixel[:, 1] >= 0) & (pixel[:, 1] < height)
    for solid, footprint in ((False, faint_square), (True, solid_disc)):
        chosen = np.flatnonzero(((index < 1) == solid) & inside)  # in sample order
        where = (pixel[chosen, 1] + 3) * stride + pixel[chosen, 0] + 3
        for dx, dy in footprint:  # each offset in turn, every point at once (the old way)
            expected[where + dy * stride + dx] = colours[index[chosen]]
    assert np.count_nonzero((index >= 1) & inside) * 4 >= buffer.size  # the faint ones took the dense path
    assert np.array_equal(buffer | 0xFF000000, expected)
