"""Small behaviours every panel of the window shares, so they read and act the same:
one rounding rule for percentages, labels that wrap instead of widening a column, and
value widgets that a passing mouse wheel does not change."""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QLabel, QSizePolicy, QWidget


def percent(fraction: float) -> str:
    """``fraction`` as a whole percentage, rounded half up: 0.965 → "97%".

    Every percentage the window shows (prediction text, probability bars, accuracy)
    goes through here, so a bar never reads 96% beside a text reading 97%."""
    if not math.isfinite(fraction):
        return "–"
    return f"{math.floor(fraction * 100 + 0.5):d}%"


def wrapping_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that wraps anywhere (paths and tracebacks have long words) and never asks
    its column for more width than the column has."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    policy = label.sizePolicy()
    policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
    label.setSizePolicy(policy)
    label.setMinimumWidth(40)
    return label


class _WheelGuard(QObject):
    """Wheel events over an unfocused combo box or spin box go to its parent (the form
    scrolls) instead of changing the value under the pointer."""

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Wheel and not watched.hasFocus():
            event.ignore()  # QApplication then offers it to the parent widgets
            return True
        return False


def ignore_wheel_unless_focused(root: QWidget) -> None:
    """Guard every combo box and spin box inside ``root`` (call once it is built)."""
    guard = root.findChild(_WheelGuard)
    if guard is None:
        guard = _WheelGuard(root)
    for widget in root.findChildren(QComboBox) + root.findChildren(QAbstractSpinBox):
        if widget.property("wheelGuarded"):
            continue
        widget.setProperty("wheelGuarded", True)
        widget.installEventFilter(guard)
        # Wheel focus would let the wheel itself focus the widget and then change it.
        if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
