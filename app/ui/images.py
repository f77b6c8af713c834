"""Dataset images (numpy uint8) as Qt pixmaps, scaled without blurring the pixels."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def to_qimage(image: np.ndarray) -> QImage:
    """A copy of one uint8 image, (H, W) grey or (H, W, C) with C in 1, 3, 4."""
    a = np.ascontiguousarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = np.ascontiguousarray(a[:, :, 0])
    h, w = a.shape[:2]
    if a.ndim == 2:
        fmt, channels = QImage.Format.Format_Grayscale8, 1
    elif a.shape[2] == 3:
        fmt, channels = QImage.Format.Format_RGB888, 3
    else:
        fmt, channels = QImage.Format.Format_RGBA8888, 4
    # The image owns its pixels; numpy copies into them row by row (lines are padded
    # to 4 bytes). A QImage built over a numpy buffer trips a reference-count bug in
    # PySide6 6.12.
    image = QImage(w, h, fmt)
    rows = np.frombuffer(image.bits(), dtype=np.uint8).reshape(h, image.bytesPerLine())
    rows[:, : w * channels] = a.reshape(h, w * channels)
    return image


def to_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """The image scaled to fit ``size``×``size`` pixels, keeping sharp pixel edges."""
    pixmap = QPixmap.fromImage(to_qimage(image))
    return pixmap.scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )
