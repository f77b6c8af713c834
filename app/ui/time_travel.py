"""Time travel in the window: which position the views show (``None`` = now), a
debounced way to ask for one while a slider is dragged, and playback.

It decides nothing about what a state looks like: it asks the ``TimeMachine`` for
the project at a position and hands it to ``show`` (the window's), which redraws
every view from it. Playback is a ``QTimer``; nothing here spins the event loop.
"""

from __future__ import annotations

import bisect
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.project.errors import ProjectError
from eventstore import StoreError

DEBOUNCE_MS = 30  # a drag's moves closer than this apart show only the last one
EPOCH = "epoch"
SPEEDS = (
    ("10 events/s", 10),
    ("100 events/s", 100),
    ("1,000 events/s", 1_000),
    ("10,000 events/s", 10_000),
    ("epoch by epoch", EPOCH),
)
FRAME_MS = 100  # playback shows at most ten positions a second (each is a full redraw)
EPOCH_FRAME_MS = 700  # long enough to see each epoch's map


class TimeTravel(QObject):
    viewing = Signal(object)  # the position shown (int), or None when back to now
    playing_changed = Signal(bool)

    def __init__(self, show, report, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._show = show  # project -> None: every view shows that project
        self._report = report  # (title, exception) -> None
        self.machine: Any = None  # the project's TimeMachine once one is shown
        self.position: int | None = None
        self._pending: int | None = None
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS, timeout=self._apply_pending)
        self._player = QTimer(self, timeout=self._tick)
        self._speed = SPEEDS[1][1]
        self._epochs: list[int] = []

    def bind(self, machine) -> None:
        """A project was opened (another one, a branch, a recent file): it is shown as it
        is now, and everyone who showed the past of the previous one is told so."""
        self.stop()
        self._debounce.stop()
        self.machine, self.position, self._pending = machine, None, None
        self.viewing.emit(None)

    @property
    def in_past(self) -> bool:
        return self.position is not None

    def head(self) -> int:
        return 0 if self.machine is None else self.machine.live.head()

    # --- moving -------------------------------------------------------------------------
    def request(self, position: int) -> None:
        """Show ``position`` once moves stop arriving for ``DEBOUNCE_MS`` (slider drags)."""
        self._pending = int(position)
        self._debounce.start()

    def _apply_pending(self) -> None:
        if self._pending is not None:
            position, self._pending = self._pending, None
            self.go_to(position)

    def go_to(self, position: int) -> bool:
        """Show the project as of ``position`` now; False (and a message) if it cannot."""
        if self.machine is None:
            return False
        position = max(1, min(int(position), self.head()))
        try:
            past = self.machine.at(position)
        except (ProjectError, StoreError) as exc:
            self.stop()
            self._report("Cannot show that moment of the history", exc)
            return False
        self.position = position
        self._show(past)
        self.viewing.emit(position)
        return True

    def back_to_now(self) -> None:
        self.stop()
        self._debounce.stop()
        self._pending = None
        if self.machine is None or self.position is None:
            return
        self.position = None
        self._show(self.machine.live)
        self.viewing.emit(None)

    # --- playback -----------------------------------------------------------------------
    def set_speed(self, speed) -> None:
        self._speed = speed
        if self.is_playing():
            self._player.setInterval(self._frame_ms())

    def is_playing(self) -> bool:
        return self._player.isActive()

    def play(self) -> None:
        """Animate from the position shown (from the start when showing now)."""
        if self.machine is None or self.head() < 1:
            return
        if self._speed == EPOCH:
            self._epochs = self.machine.epoch_positions()
            if not self._epochs:
                self._report(
                    "Nothing to play epoch by epoch",
                    ProjectError(
                        "this project has no recorded training epochs yet: train the model, or play by events"
                    ),
                )
                return
        elif self.position is None and not self.go_to(1):
            return
        self._player.setInterval(self._frame_ms())
        self._player.start()
        self.playing_changed.emit(True)

    def stop(self) -> None:
        if self._player.isActive():
            self._player.stop()
            self.playing_changed.emit(False)

    def _frame_ms(self) -> int:
        if self._speed == EPOCH:
            return EPOCH_FRAME_MS
        return max(FRAME_MS, 1000 // int(self._speed))

    def _tick(self) -> None:
        at = self.position or 0
        if self._speed == EPOCH:
            following = bisect.bisect_right(self._epochs, at)
            if following >= len(self._epochs):
                self.stop()  # the last epoch stays shown: the end of the animation
                return
            self.go_to(self._epochs[following])
            return
        step = max(1, int(self._speed) * self._player.interval() // 1000)
        target = min(self.head(), at + step)
        if target >= self.head():
            self.back_to_now()  # the end of the history is now
            return
        self.go_to(target)
