"""Following the open project's log live: a background job waits on the store
(``wait_for_new``: LISTEN/NOTIFY on a server, SQLite's data version across processes)
and tells the GUI thread when events arrived, which then catches the project up with
``Project.refresh()`` — the same incremental catch-up as for its own changes.

The job waits on a store of its own (``open_log``), never on the project's: the project
belongs to the GUI thread. When the store cannot be reached (the server went away) the
job says so once, closes it and reconnects with a growing pause (back-off), and says
when it is back. ``stop()`` returns within about ``WAIT_S``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.project.errors import ProjectError
from app.ui.background import BackgroundJob
from eventstore import EventStore, StoreError

WAIT_S = 0.25  # one wait on the store; also how long stop() may take
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)  # pauses between reconnection attempts
_SLICE_S = 0.05  # a pause is slept in slices, so stop() is not kept waiting

ARRIVED, LOST, BACK = "arrived", "lost", "back"


class LiveFollower(QObject):
    """Emits ``arrived`` (on the GUI thread) when the log grew past what was seen,
    ``lost(message, retry_in_seconds)`` when the store cannot be reached, ``back`` when
    it can again."""

    arrived = Signal(int)  # the store's head
    lost = Signal(str, float)
    back = Signal()

    def __init__(
        self,
        open_log: Callable[[], EventStore],
        position: int,
        parent: QObject | None = None,
        *,
        wait_s: float = WAIT_S,
        backoff_s: tuple[float, ...] = BACKOFF_S,
    ) -> None:
        super().__init__(parent)
        self._open_log = open_log
        self._position = position
        self._wait_s = wait_s
        self._backoff_s = backoff_s
        self.job = BackgroundJob(self._follow, self)
        self.job.progressed.connect(self._dispatch)

    def start(self) -> LiveFollower:
        self.job.start()
        return self

    def stop(self) -> None:
        """End the job and close its store; returns when its thread has ended."""
        self.job.cancel()
        self.job.wait()

    def is_running(self) -> bool:
        return self.job.is_running()

    # -- the GUI thread --------------------------------------------------------------
    def _dispatch(self, item) -> None:
        if self.job.is_cancelled():
            return
        kind = item[0]
        if kind == ARRIVED:
            self.arrived.emit(item[1])
        elif kind == LOST:
            self.lost.emit(item[1], item[2])
        elif kind == BACK:
            self.back.emit()

    # -- the job's thread ------------------------------------------------------------
    def _follow(self, cancelled):
        store: EventStore | None = None
        position = self._position
        failures = 0
        try:
            while not cancelled():
                try:
                    if store is None:
                        store = self._open_log()
                        if failures:
                            failures = 0
                            yield (BACK,)
                    head = store.wait_for_new(position, self._wait_s)
                except (StoreError, ProjectError, OSError) as exc:
                    message = str(exc)
                except Exception as exc:  # noqa: BLE001 -- a driver's own error: still "unreachable"
                    message = f"{type(exc).__name__}: {exc}"
                else:
                    if head > position:
                        position = head
                        yield (ARRIVED, head)
                    continue
                _close(store)
                store = None
                pause = self._backoff_s[min(failures, len(self._backoff_s) - 1)]
                failures += 1
                yield (LOST, message, pause)
                deadline = time.monotonic() + pause
                while not cancelled() and time.monotonic() < deadline:
                    time.sleep(_SLICE_S)
        finally:
            _close(store)


def _close(store: EventStore | None) -> None:
    if store is None:
        return
    try:
        store.close()
    except Exception:  # noqa: BLE001,S110 -- closing a store whose server went away
        pass


__all__ = ["LiveFollower"]
