"""Class colours: one solid colour per class, a faint grey for unlabeled samples.

Colours are packed as 0xAARRGGBB integers too, because the map rasterises
points with numpy into a 32-bit image (see ``point_cloud.py``).
"""

from __future__ import annotations

import colorsys

import numpy as np
from PySide6.QtGui import QColor

# Tableau 10: distinct for the common case of ten classes, readable on white.
_BASE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
UNLABELED = QColor("#cfd3d8")
SELECTED = QColor("#000000")
BACKGROUND = QColor("#ffffff")


def class_colours(count: int) -> list[QColor]:
    """``count`` distinct colours; beyond ten, evenly spaced hues (golden-ratio steps)."""
    colours = [QColor(c) for c in _BASE[:count]]
    for i in range(len(colours), count):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.75, 0.85)
        colours.append(QColor.fromRgbF(r, g, b))
    return colours


def faint(colour: QColor, amount: float = 0.65) -> QColor:
    """``colour`` blended towards white, for predicted (not assigned) classes."""
    r, g, b = colour.redF(), colour.greenF(), colour.blueF()
    return QColor.fromRgbF(r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


def packed(colours: list[QColor]) -> np.ndarray:
    """uint32 0xAARRGGBB values, the pixel format of ``QImage.Format_ARGB32``."""
    return np.array([c.rgba() & 0xFFFFFFFF for c in colours], dtype=np.uint32)
