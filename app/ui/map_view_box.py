"""The latent map's ViewBox: wheel zooms, drag pans, and in a selection mode (or with
Shift for a rectangle, Ctrl for a lasso) a drag draws the region to select; and the map's
geometry (which points a region holds, where a new map is placed over the one shown)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from domain.learning.map_layout import align_to  # numpy only: no JAX in the window

PAN, RECTANGLE, LASSO = "pan", "rectangle", "lasso"


class MapViewBox(pg.ViewBox):
    clicked = Signal(object)  # QPointF in data coordinates
    region_selected = Signal(object, object)  # (N×2 polygon in data coordinates, additive: bool)

    def __init__(self) -> None:
        super().__init__()
        self.mode = PAN
        self._path: list[QPointF] = []
        self._outline = QGraphicsPathItem()
        pen = QPen(QColor("#202020"))
        pen.setCosmetic(True)
        pen.setStyle(Qt.PenStyle.DashLine)
        self._outline.setPen(pen)
        self._outline.setBrush(QColor(40, 40, 40, 30))
        self._outline.setZValue(1e9)
        self._outline.hide()
        self.addItem(self._outline, ignoreBounds=True)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph's name)
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.clicked.emit(self.mapSceneToView(ev.scenePos()))
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        mode = self._drag_mode(ev)
        if mode == PAN or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        here = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._path = [self.mapSceneToView(ev.buttonDownScenePos())]
        if mode == RECTANGLE:
            start = self._path[0]
            self._path = [start, QPointF(here.x(), start.y()), here, QPointF(start.x(), here.y())]
        else:
            self._path.append(here)
        self._draw_outline()
        if ev.isFinish():
            self._outline.hide()
            polygon = np.array([(p.x(), p.y()) for p in self._path], dtype=np.float64)
            additive = bool(ev.modifiers() & Qt.KeyboardModifier.AltModifier)
            self._path = []
            self.region_selected.emit(polygon, additive)

    def _drag_mode(self, ev) -> str:
        modifiers = ev.modifiers()
        if modifiers & Qt.KeyboardModifier.ShiftModifier:
            return RECTANGLE
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            return LASSO
        return self.mode

    def _draw_outline(self) -> None:
        path = QPainterPath(self._path[0])
        for p in self._path[1:]:
            path.lineTo(p)
        path.closeSubpath()
        self._outline.setPath(path)
        self._outline.show()


def normalised(coords: np.ndarray) -> np.ndarray:
    """``coords`` centred and scaled to a root-mean-square radius of 1: a map's numbers
    mean nothing, so the first one shown reads the same whatever its method's units."""
    xy = np.asarray(coords, dtype=np.float64)
    if not len(xy) or not np.all(np.isfinite(xy)):
        return np.asarray(coords, dtype=np.float32)
    centred = xy - xy.mean(axis=0)
    radius = float(np.sqrt((centred**2).sum(axis=1).mean()))
    return (centred / radius if radius > 0 else centred).astype(np.float32)


def placed_over(current: np.ndarray, shown: np.ndarray | None) -> np.ndarray:
    """``current`` (N×2) turned, mirrored, scaled and moved to lie over ``shown`` (N×2,
    the map on screen), so points keep their place from one map to the next.

    Rotation and reflection are the orthogonal Procrustes solution (``align_to``, the one
    the training loop uses between epochs); the scale makes both maps equally spread (the
    least-squares scale would shrink a map unlike the one shown towards a dot); the
    centroid goes where the shown one was. Without a comparable map shown, ``current`` is
    only normalised."""
    if (
        shown is None
        or np.shape(shown) != np.shape(current)
        or not np.all(np.isfinite(shown))
        or not np.all(np.isfinite(current))
    ):
        return normalised(current)
    turned = align_to(current, shown).astype(np.float64)  # centred, rotated or mirrored
    target = np.asarray(shown, dtype=np.float64)
    centre = target.mean(axis=0)
    spread_now = float(np.sqrt((turned**2).sum(axis=1).mean()))
    spread_shown = float(np.sqrt(((target - centre) ** 2).sum(axis=1).mean()))
    scale = spread_shown / spread_now if spread_now > 0 and spread_shown > 0 else 1.0
    return (turned * scale + centre).astype(np.float32)


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Boolean mask of ``points`` (N×2) inside ``polygon`` (M×2), by ray casting.

    Only points in the polygon's bounding box are tested edge by edge, so a small
    lasso over 100,000 points stays cheap.
    """
    if len(polygon) < 3:
        return np.zeros(len(points), dtype=bool)
    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    candidates = np.flatnonzero(np.all((points >= lo) & (points <= hi), axis=1))
    x, y = points[candidates, 0], points[candidates, 1]
    inside = np.zeros(len(candidates), dtype=bool)
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    for ax, ay, bx, by in zip(x1, y1, x2, y2):
        crosses = (ay > y) != (by > y)
        if not crosses.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            at = ax + (y - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (x < at)
    mask = np.zeros(len(points), dtype=bool)
    mask[candidates] = inside
    return mask
