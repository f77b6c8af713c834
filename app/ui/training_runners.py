"""Two ways to run the one training loop from the window, both Qt (the one Qt adapter
the training service is given; ``app.training.runner.TrainingRunner`` is the interface).

``ThreadRunner`` iterates ``execution.execute`` in a ``QThread`` (through the application's
one ``BackgroundJob``); ``ProcessRunner`` runs the same function in a worker process
(``python -m app.training.worker``) over a ``QProcess``, so a crash, a kill or an
out-of-memory in training can never take the window down. Neither writes to the project:
they report through signals that reach the service's ``RunReports`` on the GUI thread, and
the ``TrainingService`` records.
"""

from __future__ import annotations

import collections
import contextlib
import json
import queue
import shutil
import signal
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import (
    QCoreApplication,
    QObject,
    QProcess,
    QProcessEnvironment,
    QTimer,
    Signal,
)

from app.training import protocol
from app.training.execution import LiveLabels
from app.training.runner import RunReports, TrainingRunner
from app.training.spec import EpochOutput, Progress, RunFailure, RunSpec
from app.training.worker_folders import sweep_orphan_folders, worker_folder
from app.ui.background import BackgroundJob

STDERR_TAIL = 20
STOP_GRACE_MS = 5_000  # after a stop request, how long before the worker is killed
RELEASE_WAIT_MS = 5_000  # on release, how long a blob write or the worker may take to end


class BackgroundBlobWriter(QObject):
    """The recorder's ``BlobWriter`` in the window: a run's blob writes run in order on one
    ``BackgroundJob`` thread, and each ``then`` is called on the GUI thread once its work is
    done, so the GUI thread only appends events (small) and never writes tens of MB."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thens: collections.deque = collections.deque()
        self._job: BackgroundJob | None = None

    def submit(self, work, then) -> None:
        self._thens.append(then)
        if self._job is None:
            self._start()
        self._queue.put(work)

    def _start(self) -> None:
        work_queue = self._queue

        def blob_writes(cancelled):
            while True:
                work = work_queue.get()
                if work is None:
                    return None
                try:
                    result = work()
                except Exception as exc:  # handed to `then`, which raises it on the GUI thread
                    result = exc
                yield _Done(result)

        self._job = BackgroundJob(blob_writes, self)
        self._job.progressed.connect(self._deliver)
        self._job.start()

    def _deliver(self, done) -> None:
        if self._thens:
            self._thens.popleft()(done.result)

    def flush(self) -> None:
        """Wait for every write submitted so far and call their ``then`` now."""
        job, self._job = self._job, None
        if job is None:
            return
        self._queue.put(None)
        job.wait(600_000)
        while self._thens:  # the results are queued calls to this object: deliver them now
            before = len(self._thens)
            QCoreApplication.sendPostedEvents(self)
            if len(self._thens) == before:
                break

    def close(self) -> None:
        """End the thread once what was submitted is done (its results still arrive)."""
        if self._job is not None:
            self._queue.put(None)
            self._queue = queue.SimpleQueue()
            self._job = None


class _Done:
    """A write's result; wrapped so None and exceptions travel the signal alike."""

    __slots__ = ("result",)

    def __init__(self, result) -> None:
        self.result = result


class QtRunner(QObject):
    """A ``TrainingRunner`` whose reports travel as signals, delivered on the GUI thread
    and handed to the service's ``RunReports``. Subclasses launch the run in ``_start``."""

    started = Signal(object)  # run id
    progressed = Signal(object)  # Progress
    epoch_finished = Signal(object)  # EpochOutput
    finished = Signal(object)  # run id: every planned epoch done
    stopped = Signal(object)  # run id: stopped at a step boundary
    failed = Signal(object)  # RunFailure
    log_line = Signal(object)  # str

    name = "runner"
    # What each subclass (thread, process) provides: launch the run, ask it to stop at a
    # step boundary, end it now, wait up to ``ms`` for it to end.
    _start: Callable[[RunSpec], None]
    stop: Callable[[], None]
    kill: Callable[[], None]
    wait: Callable[[int], bool]

    def start(self, spec: RunSpec, reports: RunReports) -> None:
        self.progressed.connect(reports.progressed)
        self.epoch_finished.connect(reports.epoch_finished)
        self.finished.connect(lambda _: reports.finished())
        self.stopped.connect(lambda _: reports.stopped())
        self.failed.connect(reports.failed)
        self.log_line.connect(reports.log_line)
        self._start(spec)

    def blob_writer(self) -> BackgroundBlobWriter:
        """The run's blob writes go through the window's one background path."""
        return BackgroundBlobWriter(self)

    def deliver_pending(self) -> None:
        # What the run's thread or process queued before it ended (its last epoch, its end).
        QCoreApplication.sendPostedEvents()

    def release(self) -> None:
        """The project closes (its service has shut down): destroy this runner and its Qt
        children (process, jobs, blob writer) on this, the GUI thread, at the event loop's
        next turn. Its signals' slots held the run's reports, and through them the service
        and the closed project, in Qt's connection lists the garbage collector cannot see;
        the collector must not be the one to free them either: it may run on any thread,
        and a QProcess or QTimer destroyed there crashes the window."""
        for name in ("started", "progressed", "epoch_finished", "finished", "stopped", "failed", "log_line"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # nothing was connected
                with contextlib.suppress(RuntimeError, TypeError):
                    getattr(self, name).disconnect()
        # Owned by Qt from now on (a parent, on the GUI thread): the collector can free
        # only the Python side, never the C++ objects.
        self.setParent(QCoreApplication.instance())
        self.stop()
        for writer in self.findChildren(BackgroundBlobWriter):
            writer.close()  # its thread ends once what was submitted is written
        busy = [job for job in self.findChildren(BackgroundJob) if not job.wait(RELEASE_WAIT_MS)]
        if not self.wait(RELEASE_WAIT_MS):
            self.kill()
            self.wait(RELEASE_WAIT_MS)
        if busy:  # a thread still writing: destroyed once it has ended, never under it
            pending = set(busy)

            def ended(job=None) -> None:
                pending.discard(job)
                if not pending:
                    self.deleteLater()

            for job in busy:
                job.finished.connect(lambda job=job: ended(job))
            return
        self.deleteLater()


class ThreadRunner(QtRunner):
    name = "thread"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job: BackgroundJob | None = None
        self._live: LiveLabels | None = None

    def _start(self, spec: RunSpec) -> None:
        from app.training.execution import execute  # JAX loads in this process only now

        self._live = LiveLabels(spec.labels, spec.labels_position)
        live, planned = self._live, spec.config.epochs

        def job(cancelled):
            queue: collections.deque[Progress] = collections.deque()
            epochs = 0
            for output in execute(spec, cancelled, live, queue.append):
                while queue:
                    yield queue.popleft()
                epochs += 1
                yield output
            while queue:
                yield queue.popleft()
            return "completed" if epochs == planned else "stopped"

        self._job = BackgroundJob(job, self)
        self._job.progressed.connect(self._on_item)
        self._job.succeeded.connect(lambda status: self._ended(spec.run_id, status))
        self._job.failed.connect(
            lambda exc: self.failed.emit(
                RunFailure(
                    f"{type(exc).__name__}: {exc}",
                    stderr_tail=tuple(getattr(exc, "__traceback_text__", "").splitlines()[-STDERR_TAIL:]),
                )
            )
        )
        self._job.finished.connect(lambda: self._cancelled_end(spec.run_id))
        self._run_id, self._reported = spec.run_id, False
        self._job.start()
        self.started.emit(spec.run_id)

    def _on_item(self, item) -> None:
        if isinstance(item, EpochOutput):
            self.log_line.emit(f"epoch {item.epoch}: loss {item.metrics['loss']:.4f}")
            self.epoch_finished.emit(item)
        else:
            self.progressed.emit(item)

    def _ended(self, run_id: str, status: str) -> None:
        self._reported = True
        (self.finished if status == "completed" else self.stopped).emit(run_id)

    def _cancelled_end(self, run_id: str) -> None:
        # A cancelled job returns nothing; it is a stop unless it failed.
        if not self._reported and self._job is not None and self._job.is_cancelled():
            self._reported = True
            self.stopped.emit(run_id)

    def stop(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def kill(self) -> None:
        """A thread cannot be killed: it ends at its next step, as on ``stop``."""
        self.stop()

    def update_labels(self, labels: np.ndarray, position: int) -> None:
        if self._live is not None:
            self._live.update(labels, position)

    def is_running(self) -> bool:
        return self._job is not None and self._job.is_running()

    def wait(self, ms: int) -> bool:
        return self._job is None or self._job.wait(ms)


class ProcessRunner(QtRunner):
    name = "process"

    def __init__(self, parent: QObject | None = None, python: str = sys.executable) -> None:
        super().__init__(parent)
        self._python = python
        self._process: QProcess | None = None
        self._folder: Path | None = None
        self._buffer = b""
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
        self._terminal: dict | None = None
        self._run_id = ""
        self._kill_timer: QTimer | None = None

    @property
    def pid(self) -> int | None:
        return int(self._process.processId()) if self._process is not None else None

    def _start(self, spec: RunSpec) -> None:
        self._run_id = spec.run_id
        sweep_orphan_folders()
        self._folder = worker_folder(spec.run_id)
        protocol.write_job(self._folder, spec)
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        root = str(Path(__file__).resolve().parents[2])  # the folder holding app/, domain/
        env.insert("PYTHONPATH", root + (":" + env.value("PYTHONPATH") if env.contains("PYTHONPATH") else ""))
        env.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(env)
        process.setProgram(self._python)
        process.setArguments(["-m", "app.training.worker", str(self._folder)])
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        process.start()
        self.started.emit(spec.run_id)

    # -- from the worker -----------------------------------------------------------------
    def _read_stdout(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                self.log_line.emit(raw.decode(errors="replace"))
                continue
            self._dispatch(line)

    def _dispatch(self, line: dict) -> None:
        event = line.get("event")
        if event == "progress":
            self.progressed.emit(
                Progress(line["run_id"], line["epoch"], line["step"], line["steps"], line["eta_s"])
            )
        elif event == "epoch" and self._folder is not None:  # (the folder exists while it runs)
            self.epoch_finished.emit(protocol.read_epoch(self._folder, self._run_id, line))
        elif event in ("completed", "stopped", "failed"):
            self._terminal = line

    def _read_stderr(self) -> None:
        if self._process is None:
            return
        text = bytes(self._process.readAllStandardError().data()).decode(errors="replace")
        for line in text.splitlines():
            self._stderr.append(line)
            self.log_line.emit(line)

    def _on_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            self._report_failure(
                f"the training process could not start ({self._process.errorString()})", None, None
            )

    def _on_finished(self, exit_code: int, exit_status) -> None:
        self._read_stdout()
        self._read_stderr()
        if self._kill_timer is not None:
            self._kill_timer.stop()
        terminal = self._terminal or {}
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        if terminal.get("event") == "completed" and not crashed and exit_code == 0:
            self.finished.emit(self._run_id)
        elif terminal.get("event") == "stopped" and not crashed and exit_code == 0:
            self.stopped.emit(self._run_id)
        elif terminal.get("event") == "failed":
            self._report_failure(terminal.get("message", "the training failed"), exit_code, None)
        elif crashed:
            # On Unix, Qt reports the terminating signal as the exit code of a crash.
            self._report_failure(_signal_message(exit_code), None, exit_code)
        else:
            self._report_failure(
                f"the training process exited with code {exit_code} without finishing", exit_code, None
            )
        self._cleanup()

    def _report_failure(self, message: str, exit_code: int | None, sig: int | None) -> None:
        self.failed.emit(RunFailure(message, exit_code, sig, tuple(self._stderr)))

    def _cleanup(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    # -- to the worker ---------------------------------------------------------------------
    def _send(self, message: dict) -> None:
        if self.is_running() and self._process is not None:
            self._process.write((json.dumps(message) + "\n").encode())

    def stop(self) -> None:
        self._send({"cmd": "stop"})
        if self.is_running() and self._kill_timer is None:
            self._kill_timer = QTimer(self)
            self._kill_timer.setSingleShot(True)
            self._kill_timer.timeout.connect(self.kill)
            self._kill_timer.start(STOP_GRACE_MS)

    def kill(self) -> None:
        if self.is_running() and self._process is not None:
            self._process.kill()

    def update_labels(self, labels: np.ndarray, position: int) -> None:
        if self.is_running() and self._folder is not None:
            self._send(protocol.write_labels(self._folder, labels, position))

    def is_running(self) -> bool:
        return self._process is not None and self._process.state() != QProcess.ProcessState.NotRunning

    def wait(self, ms: int) -> bool:
        if self._process is None or self._process.state() == QProcess.ProcessState.NotRunning:
            return True
        return self._process.waitForFinished(ms)


def _signal_message(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    hint = " — most often the system ran out of memory" if number == signal.SIGKILL else ""
    return f"the training process was killed by {name}{hint}"


def qt_runners() -> dict[str, type[TrainingRunner]]:
    """The runners the window (and ``ledgerlab train --runner``) can start."""
    return {"thread": ThreadRunner, "process": ProcessRunner}
