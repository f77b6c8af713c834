"""The window's view of a ``TrainingService``: its typed notices as Qt signals.

The service is Qt-free and tells its listeners on the GUI thread (runners report there);
widgets connect to these signals as to any other.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.training.service import TrainingService
from app.training.spec import EpochRecorded, LogLine, Progress, RunEnded, RunStarted


class TrainingSignals(QObject):
    run_started = Signal(object)  # RunStarted
    progress = Signal(object)  # Progress
    epoch_recorded = Signal(object)  # EpochRecorded
    run_ended = Signal(object)  # RunEnded
    log_line = Signal(object)  # LogLine

    def __init__(self, service: TrainingService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._unsubscribe = service.subscribe(self)
        self.destroyed.connect(lambda *_: self._unsubscribe())

    def on_run_started(self, notice: RunStarted) -> None:
        self.run_started.emit(notice)

    def on_progress(self, progress: Progress) -> None:
        self.progress.emit(progress)

    def on_epoch_recorded(self, notice: EpochRecorded) -> None:
        self.epoch_recorded.emit(notice)

    def on_run_ended(self, notice: RunEnded) -> None:
        self.run_ended.emit(notice)

    def on_log_line(self, notice: LogLine) -> None:
        self.log_line.emit(notice)

    def detach(self) -> None:
        """Stop listening (the service outlives this object only on shutdown)."""
        self._unsubscribe()
