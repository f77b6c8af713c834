"""The one way the application runs work off the GUI thread (imports, opening, training…).

A job is a generator function: what it yields is progress (delivered to the GUI thread
by queued signals), what it returns is the result. ``cancel()`` sets a flag the job
sees through the ``cancelled`` callable it receives, so long work stops between steps.
Jobs never touch widgets; the window reacts to the signals.
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable, Generator
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal

JobFunction = Callable[[Callable[[], bool]], Generator[Any, None, Any]]


class BackgroundJob(QObject):
    progressed = Signal(object)  # whatever the job yielded
    succeeded = Signal(object)  # the generator's return value
    failed = Signal(object)  # the exception
    finished = Signal()  # after succeeded, failed or a cancellation

    def __init__(self, job: JobFunction, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = job
        self._cancelled = False
        self._thread = QThread()
        self._thread.setObjectName(f"ll-{getattr(job, '__name__', 'job')}")
        self._runner: _Runner | None = _Runner(self)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        # Direct: quit() is thread-safe, and a queued call would wait for the GUI's event
        # loop, which is not running when the window shuts down and waits for its jobs.
        self._runner.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self.finished)
        self._thread.finished.connect(self._release)  # queued after every result signal

    def _release(self) -> None:
        """A finished job lets go of its function and of the slots given its results (their
        closures hold what the job was for: a project since closed, its history). Its
        parent keeps the job itself; without this, every job of a session kept its project."""
        self._job = _nothing_more
        # Its Qt objects are never left to the garbage collector, which may run on any
        # thread: the runner (it let go of the job as its run ended) is freed now, here on
        # the GUI thread, and the ended thread becomes a child, destroyed with the job.
        self._runner = None
        if shiboken6.isValid(self):  # (a parentless job may be gone before this queued call)
            self._thread.setParent(self)
        for signal in (self.progressed, self.succeeded, self.failed):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # nothing was connected
                try:
                    signal.disconnect()
                except (RuntimeError, TypeError):
                    pass

    def start(self) -> BackgroundJob:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancelled = True

    def is_cancelled(self) -> bool:
        return self._cancelled

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, ms: int = 30_000) -> bool:
        """Block until the job's thread ended (for shutdown and tests)."""
        return self._thread.wait(ms)


def _nothing_more(cancelled: Callable[[], bool]) -> Generator[Any, None, Any]:
    yield from ()


class _Runner(QObject):
    done = Signal()

    def __init__(self, owner: BackgroundJob) -> None:
        super().__init__()
        self._owner: BackgroundJob | None = owner

    def run(self) -> None:
        owner = self._owner
        if owner is None:  # ran once already
            self.done.emit()
            return
        try:
            generator = owner._job(owner.is_cancelled)
            while True:
                try:
                    item = next(generator)
                except StopIteration as stop:
                    if not owner.is_cancelled():
                        owner.succeeded.emit(stop.value)
                    break
                owner.progressed.emit(item)
                if owner.is_cancelled():
                    generator.close()
                    break
        except Exception as exc:  # reported to the person by whoever listens
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]  # for the report
            owner.failed.emit(exc)
        finally:
            # Hand this object to the GUI thread and let go of the job: whoever frees it
            # then does so by reference count, where the job is released (see _release).
            self._owner = None
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())
            self.done.emit()
