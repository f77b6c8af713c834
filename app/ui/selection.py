"""Which samples the person is looking at: a current sample and a set of selected ones.

Shared by the map, the sample viewer and the labeling keys. It emits only on a
real change, so views never redraw for nothing.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal


class Selection(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current: int | None = None
        self._samples = np.zeros(0, dtype=np.int64)

    @property
    def current(self) -> int | None:
        return self._current

    @property
    def samples(self) -> np.ndarray:
        """The selected samples, sorted (read-only)."""
        return self._samples

    def __len__(self) -> int:
        return len(self._samples)

    def select(self, samples, current: int | None = None) -> None:
        """Select ``samples``; the current sample is ``current`` or the first of them."""
        array = np.unique(np.asarray(samples, dtype=np.int64).ravel())
        array.flags.writeable = False
        if current is None and array.size:
            current = int(array[0])
        self._set(array, current)

    def select_one(self, sample: int | None) -> None:
        if sample is None:
            self.clear()
        else:
            self._set(np.array([sample], dtype=np.int64), int(sample))

    def move_current(self, sample: int) -> None:
        """Make ``sample`` current; inside a multi-selection the selection stays."""
        if len(self._samples) > 1 and np.isin(sample, self._samples):
            self._set(self._samples, int(sample))
        else:
            self.select_one(sample)

    def next_in_selection(self) -> int | None:
        """The selected sample after the current one (wrapping round)."""
        if len(self._samples) < 2 or self._current is None:
            return None
        index = int(np.searchsorted(self._samples, self._current, side="right"))
        return int(self._samples[index % len(self._samples)])

    def discard(self, samples) -> None:
        """Drop ``samples`` from the selection; a dropped current sample hands over to the
        next one left (wrapping round)."""
        drop = np.asarray(samples, dtype=np.int64).ravel()
        keep = self._samples[~np.isin(self._samples, drop)]
        if len(keep) == len(self._samples):
            return
        current = self._current
        if current is None or not np.isin(current, keep):
            after = int(np.searchsorted(keep, current if current is not None else 0))
            current = int(keep[after % len(keep)]) if len(keep) else None
        self._set(keep.copy(), current)

    def clear(self) -> None:
        self._set(np.zeros(0, dtype=np.int64), None)

    def _set(self, samples: np.ndarray, current: int | None) -> None:
        if current == self._current and np.array_equal(samples, self._samples):
            return
        samples.flags.writeable = False
        self._samples, self._current = samples, current
        self.changed.emit()
