"""PointCloud: every sample as a dot, drawn fast enough for 100,000 of them.

pyqtgraph's ScatterPlotItem costs ~3.5 µs per point to recolour and 14-28 ms to
repaint one changed spot at 70 k points (docs BASELINES.md). Here the points are
rasterised with numpy into a 32-bit image the size of the view (one fancy-indexed
write per pixel of the dot's footprint, ~10 ms for 100 k), and that image is kept:
a label that changes a few points stamps only those points into it, and a repaint
is one image blit. The image is redrawn from scratch only when the view moves, the
map moves, or a point loses its colour (a smaller dot cannot cover a larger one).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QImage, QPainter, QPen, QTransform

from app.ui import palette

# Footprints as (dx, dy) pixel offsets: a 21-pixel disc for coloured points, a
# 9-pixel one for faint (unlabeled) points so coloured ones stand out.
_SOLID = tuple((dx, dy) for dx in range(-2, 3) for dy in range(-2, 3) if dx * dx + dy * dy <= 5)
_FAINT = tuple((dx, dy) for dx in range(-1, 2) for dy in range(-1, 2))
_MARGIN = 3  # pixels of padding round the image so footprints never need clipping
_RING_LIMIT = 2_000  # above this many selected samples, mark them with dots instead of rings
_PARTIAL_LIMIT = 64  # up to this many changed points, repaint only the pixels round them
_RING_PX = 10.0  # the current sample's ring (radius 7 + pen) fits in this
# Above this many points a view change (pan, zoom) first shows the kept raster moved and
# scaled to the new view, and redraws it once the view has held still for _SETTLE_MS:
# a full redraw costs ~35 ms at 1 M points, too much for every frame of a drag.
DEFER_ABOVE = 200_000
_SETTLE_MS = 120


class PointCloud(pg.GraphicsObject):
    """Points at ``positions`` coloured by ``colour_index`` into ``colours``.

    A colour index < ``solid_count`` is drawn as a solid dot, others as faint dots.
    """

    def __init__(self) -> None:
        super().__init__()
        self._xy = np.zeros((0, 2), dtype=np.float64)
        self._index = np.zeros(0, dtype=np.int32)
        self._colours = np.zeros(1, dtype=np.uint32)
        self._solid_count = 0
        self._bounds = QRectF()
        self._extent: tuple = ((None, None), (None, None))  # (min, max) per axis, for dataBounds
        self._selected = np.zeros(0, dtype=np.int64)
        self._current: int | None = None
        # The cached raster and what it was drawn for.
        self._image: QImage | None = None
        self._buffer: Any = None  # a uint32 numpy view of the image's pixels
        self._stride = 0
        self._ratio = 1.0
        self._key: Any = None  # (width, height, m11, m12, m21, m22, dx, dy) in device pixels
        self._device_xy: np.ndarray | None = None
        self._dirty: set[int] | None = None  # samples to stamp into the cached raster
        self.full_renders = 0  # how often the whole raster was redrawn (for tests/benchmarks)
        self.paints = 0
        self.defer_above = DEFER_ABOVE
        self._settle = QTimer()
        self._settle.setSingleShot(True)
        self._settle.setInterval(_SETTLE_MS)
        self._settle.timeout.connect(self.update)
        self._stale = False  # the last paint showed the raster of another view, moved

    # --- data ---------------------------------------------------------------------

    def set_positions(self, xy: np.ndarray) -> None:
        xy = np.asarray(xy, dtype=np.float64)[:, :2]
        self.prepareGeometryChange()
        self._xy = xy
        if len(xy):
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            self._bounds = QRectF(lo[0], lo[1], max(hi[0] - lo[0], 1e-9), max(hi[1] - lo[1], 1e-9))
            self._extent = ((float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])))
        else:
            self._bounds = QRectF()
            self._extent = ((None, None), (None, None))
        self.informViewBoundsChanged()  # a view that auto-ranges follows the new map
        self._invalidate()

    def set_colours(self, colours: np.ndarray, solid_count: int, index: np.ndarray) -> None:
        """All colours at once (a new palette or a new colouring)."""
        self._colours = np.asarray(colours, dtype=np.uint32)
        self._solid_count = solid_count
        self._index = np.asarray(index, dtype=np.int32).copy()
        self._invalidate()

    def recolour(self, samples: np.ndarray, index: np.ndarray) -> None:
        """Change the colour of a few samples; only they are redrawn."""
        samples = np.asarray(samples, dtype=np.int64)
        index = np.asarray(index, dtype=np.int32)
        fading = (index >= self._solid_count) & (self._index[samples] < self._solid_count)
        self._index[samples] = index
        if self._dirty is not None and not fading.any():
            self._dirty.update(samples.tolist())
            self._update_around(samples)
        else:
            self._invalidate()

    def set_selection(self, samples: np.ndarray, current: int | None) -> None:
        before = self._marked()
        self._selected = np.asarray(samples, dtype=np.int64)
        self._current = current
        self._update_around(np.union1d(before, self._marked()))

    def _marked(self) -> np.ndarray:
        """The samples drawn with a ring (the selection and the current sample)."""
        if self._current is None:
            return self._selected
        return np.append(self._selected, self._current)

    def _update_around(self, samples: np.ndarray) -> None:
        """Schedule a repaint of just the pixels round ``samples`` (all, when many)."""
        if self._device_xy is None or len(samples) > _PARTIAL_LIMIT or self._key is None or self._stale:
            self.update()
            return
        if not len(samples):
            return
        ratio = self._ratio
        xy = self._device_xy[samples] / ratio
        lo, hi = xy.min(axis=0) - _RING_PX, xy.max(axis=0) + _RING_PX
        rect = self.mapRectFromDevice(QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]))
        if rect is None:
            self.update()
        else:
            self.update(rect)

    @property
    def colour_index(self) -> np.ndarray:
        return self._index

    def positions(self) -> np.ndarray:
        return self._xy

    def _invalidate(self) -> None:
        self._key = None
        self._dirty = None
        self._image = None
        self.update()

    # --- geometry for pyqtgraph's ViewBox -----------------------------------------

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return QRectF(self._bounds)

    def dataBounds(self, ax, frac=1.0, orthoRange=None):  # noqa: N802, N803 (pyqtgraph's names)
        return self._extent[ax]  # kept: the ViewBox asks on every change of a point

    def pixelPadding(self) -> float:  # noqa: N802
        return 4.0

    # --- drawing ------------------------------------------------------------------

    def paint(self, painter: QPainter, option, widget=None) -> None:
        device = painter.device()
        ratio = device.devicePixelRatioF()
        width, height = round(device.width() * ratio), round(device.height() * ratio)
        # The world transform maps item to widget coordinates; the device transform would
        # add the widget's offset inside a window's backing store.
        t = painter.worldTransform()
        key = (width, height, *(ratio * v for v in (t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy())))
        moved = None
        if key != self._key:
            # Mid-drag (or the first frame of one) on many points: move the kept raster.
            deferring = self._settle.isActive() or not self._stale
            if self._image is not None and len(self._xy) > self.defer_above and deferring:
                moved = self._moved(key)
            if moved is None:
                self._ratio = ratio
                self._render(key, width, height)
        if self._dirty:  # stamped into the kept raster, whichever view it was drawn for
            self._stamp(np.fromiter(self._dirty, dtype=np.int64, count=len(self._dirty)))
        self._dirty = set()
        self.paints += 1
        assert self._image is not None  # drawn above when there was none
        painter.save()
        painter.resetTransform()
        if moved is None:
            self._stale = False
            painter.drawImage(
                QRectF(0, 0, width / ratio, height / ratio),
                self._image,
                QRectF(_MARGIN, _MARGIN, width, height),
            )
        else:
            # The kept raster, moved to where its points now are; redrawn when the view rests.
            self._stale = True
            self._settle.start()
            painter.fillRect(QRectF(0, 0, width / ratio, height / ratio), palette.BACKGROUND)
            painter.setTransform(moved * QTransform.fromScale(1 / ratio, 1 / ratio))
            painter.drawImage(QPointF(-_MARGIN, -_MARGIN), self._image)
            painter.resetTransform()
        self._paint_selection(painter, ratio, key)
        painter.restore()

    def _moved(self, key) -> QTransform | None:
        """The transform taking the kept raster's pixels to the view ``key`` describes."""
        old, new = (QTransform(k[2], k[3], k[4], k[5], k[6], k[7]) for k in (self._key, key))
        inverse, invertible = old.inverted()
        return inverse * new if invertible else None

    def _on_device(self, samples: np.ndarray | slice, key) -> np.ndarray:
        """Device pixel positions of ``samples`` in the view ``key`` describes."""
        m11, m12, m21, m22, dx, dy = key[2:]
        x, y = self._xy[samples, 0], self._xy[samples, 1]
        return np.column_stack((m11 * x + m21 * y + dx, m12 * x + m22 * y + dy))

    def _render(self, key, width: int, height: int) -> None:
        self._device_xy = self._on_device(slice(None), key)
        # The image owns the pixels and numpy writes into them through a view (a QImage
        # built over a numpy buffer trips a reference-count bug in PySide6 6.12).
        # RGB32: opaque pixels blit without alpha blending.
        self._image = QImage(width + 2 * _MARGIN, height + 2 * _MARGIN, QImage.Format.Format_RGB32)
        self._image.fill(palette.BACKGROUND)
        self._buffer = np.frombuffer(self._image.bits(), dtype=np.uint32)
        self._stride = self._image.bytesPerLine() // 4
        self._key = key
        self._dirty = set()
        # All points at once, in whole-array steps (no gathers): faint first, so coloured
        # points lie on top; within each, in sample order (a later sample covers an earlier).
        pixel = np.rint(self._device_xy).astype(np.int32)
        ix, iy = pixel[:, 0], pixel[:, 1]
        inside = (ix >= 0) & (ix < width) & (iy >= 0) & (iy < height)
        base = (iy + _MARGIN) * self._stride + (ix + _MARGIN)
        solid = self._index < self._solid_count
        for chosen, footprint in ((inside & ~solid, _FAINT), (inside & solid, _SOLID)):
            where = base[chosen]
            if where.size:
                self._write(where, self._colours[self._index[chosen]], footprint)
        self.full_renders += 1

    def _stamp(self, samples: np.ndarray) -> None:
        if not samples.size or self._buffer is None or self._device_xy is None:
            return
        width, height = self._key[0], self._key[1]
        stride = self._stride
        pixel = np.rint(self._device_xy[samples]).astype(np.int64)
        inside = (pixel[:, 0] >= 0) & (pixel[:, 0] < width) & (pixel[:, 1] >= 0) & (pixel[:, 1] < height)
        pixel, samples = pixel[inside], samples[inside]
        index = self._index[samples]
        base = (pixel[:, 1] + _MARGIN) * stride + pixel[:, 0] + _MARGIN
        for footprint, chosen in ((_FAINT, index >= self._solid_count), (_SOLID, index < self._solid_count)):
            if not chosen.any():
                continue
            self._write(base[chosen], self._colours[index[chosen]], footprint)

    def _write(self, where: np.ndarray, colours: np.ndarray, footprint) -> None:
        """Write ``colours`` at buffer offsets ``where`` + each offset of ``footprint``."""
        if where.size * 4 < self._buffer.size:
            for ox, oy in footprint:
                self._buffer[where + (oy * self._stride + ox)] = colours
        else:
            self._stamp_dense(where, colours, footprint)

    def _stamp_dense(self, where: np.ndarray, colours: np.ndarray, footprint) -> None:
        """The same pixels as writing ``colours`` at ``where`` + each offset in turn (the
        last point written wins), for many points: the points are written once into a
        raster of their own, which is then copied over the image at each offset."""
        buffer, stride = self._buffer, self._stride
        dots = np.zeros(buffer.size, dtype=np.uint32)
        dots[where] = colours
        mask = np.zeros(buffer.size, dtype=bool)
        mask[where] = True
        rows = slice(int(where.min()) - _MARGIN * (stride + 1), int(where.max()) + _MARGIN * (stride + 1) + 1)
        rows = slice(max(rows.start, 0), min(rows.stop, buffer.size))
        dots, mask, target = dots[rows], mask[rows], buffer[rows]
        for ox, oy in footprint:
            k = oy * stride + ox
            if k > 0:
                np.copyto(target[k:], dots[:-k], where=mask[:-k])
            elif k < 0:
                np.copyto(target[:k], dots[-k:], where=mask[-k:])
            else:
                np.copyto(target, dots, where=mask)

    def _paint_selection(self, painter: QPainter, ratio: float, key) -> None:
        if not len(self._selected):
            return
        points = self._on_device(self._selected[self._selected < len(self._xy)], key) / ratio
        pen = QPen(palette.SELECTED)
        pen.setCosmetic(True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if len(points) > _RING_LIMIT:
            pen.setWidthF(2.0)
            painter.setPen(pen)
            painter.drawPoints([QPointF(px, py) for px, py in points[:: max(1, len(points) // 20_000)]])
        else:
            pen.setWidthF(1.2)
            painter.setPen(pen)
            for px, py in points:
                painter.drawEllipse(QPointF(px, py), 4.5, 4.5)
        if self._current is not None and 0 <= self._current < len(self._xy):
            px, py = self._on_device(np.array([self._current]), key)[0] / ratio
            pen.setWidthF(2.5)
            painter.setPen(pen)
            painter.drawEllipse(QPointF(px, py), 7.0, 7.0)
