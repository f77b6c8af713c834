"""``ledgerlab train --runner thread|process``: the Qt runners driven from a terminal,
under a QCoreApplication (no window)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QTimer

from app.project.live import Project
from app.training.service import TrainingService
from app.training.spec import EpochRecorded, LogLine, Progress, RunEnded, RunStarted
from app.ui.training_runners import qt_runners


def train_in_event_loop(
    project: Project,
    config: dict[str, Any],
    *,
    epochs: int,
    runner: str,
    continue_run: bool,
    compilation_cache: str | None,
    progress_line: Callable[[str, int, int, dict[str, float | None]], str],
    say: Callable[..., None],
) -> int:
    """Train with a Qt runner under a QCoreApplication, printing as ``ledgerlab train`` does
    with ``say(text, err=False)`` (which must not raise when the reader went away: a
    closed stdout must not fail a run that trains fine). Returns the exit code (0
    completed, 130 stopped, 1 failed)."""
    qt = QCoreApplication.instance() or QCoreApplication([sys.argv[0]])
    service = TrainingService(project, runners=qt_runners(), compilation_cache=compilation_cache)
    ended: list[RunEnded] = []

    class Printer:
        def on_run_started(self, notice: RunStarted) -> None: ...

        def on_progress(self, progress: Progress) -> None: ...

        def on_log_line(self, notice: LogLine) -> None: ...

        def on_epoch_recorded(self, notice: EpochRecorded) -> None:
            say(progress_line(notice.run_id, notice.epoch, epochs, notice.metrics))

        def on_run_ended(self, notice: RunEnded) -> None:
            ended.append(notice)
            qt.quit()

    service.subscribe(Printer())
    stop_requested = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    poll = QTimer()  # Python signal handlers run only when the interpreter gets control
    poll.timeout.connect(lambda: service.stop() if stop_requested.is_set() else None)
    poll.start(100)
    try:
        service.start(config, epochs, runner=runner, continue_run=continue_run)
        qt.exec()
    finally:
        poll.stop()
        signal.signal(signal.SIGINT, previous)
        service.shutdown()
    if not ended:
        return 1
    end = ended[0]
    say(
        f"run {end.run_id} {end.status}{': ' + end.message if end.message else ''}",
        err=end.status != "completed",
    )
    return {"completed": 0, "stopped": 130}.get(end.status, 1)
