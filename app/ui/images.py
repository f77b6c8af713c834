"""Dataset images (numpy uint8) as Qt pixmaps, scaled to display size: small images
(digits) keep sharp pixel edges, larger ones (photographs, thumbnails) are scaled smoothly."""

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
    qimage = QImage(w, h, fmt)
    pixels = np.frombuffer(qimage.bits(), dtype=np.uint8).reshape(h, qimage.bytesPerLine())
    pixels[:, : w * channels] = a.reshape(h, w * channels)
    return qimage


SHARP_UP_TO = 32
"""Images this small (a 28×28 digit) are enlarged with sharp pixel edges, as before;
larger ones (a 64×64 photograph at 180 px, a 128 px thumbnail at 96 px) are scaled
smoothly, as a photograph viewer does."""


def to_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """The image scaled to fit ``size``×``size`` pixels, keeping its aspect and colour."""
    pixmap = QPixmap.fromImage(to_qimage(image))
    sharp = max(image.shape[:2]) <= SHARP_UP_TO
    mode = Qt.TransformationMode.FastTransformation if sharp else Qt.TransformationMode.SmoothTransformation
    return pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)
