"""TrainingService: starts and stops runs of one project and records what they report.

Qt-free. It lives on the thread that owns the project (the GUI thread, or the CLI's), which
is the one writer of training events; runners only report (``runner.RunReports``), and
listeners (the window's ``app.ui.training_signals``, the CLI) are told what was recorded
through typed notices. Labels assigned while a run trains are handed to the runner and
used from the next epoch on.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from app.project.errors import ProjectError
from app.project.live import Project, ProjectChange
from app.training.lease import TrainingLease
from app.training.recorder import RunRecorder, recover_interrupted
from app.training.runner import RunnerFactory, TrainingRunner
from app.training.spec import (
    EpochOutput,
    EpochRecorded,
    LogLine,
    Progress,
    RunEnded,
    RunFailure,
    RunStarted,
)
from domain.learning.config import ConfigError, TrainingConfig

LOG_LINES_KEPT = 1_000
SHUTDOWN_WAIT_MS = 15_000

_LABELS = {
    "epochs": "Epochs",
    "learning_rate": "Learning rate",
    "batch_size": "Batch size",
    "labeled_batch_size": "Labeled batch",
    "latent_size": "Latent size",
    "hidden_sizes": "Hidden sizes",
    "classifier_hidden_sizes": "Classifier hidden sizes",
    "reconstruction_weight": "Reconstruction weight",
    "kl_weight": "KL weight",
    "classifier_weight": "Classifier weight",
    "seed": "Seed",
}

# Settings that may be left empty, and what empty means.
_UNSET_MEANS = {"classifier_hidden_sizes": "same as Hidden sizes"}


class TrainingListener(Protocol):
    """What the service tells about the runs it records."""

    def on_run_started(self, notice: RunStarted) -> None: ...

    def on_progress(self, progress: Progress) -> None: ...

    def on_epoch_recorded(self, notice: EpochRecorded) -> None: ...

    def on_run_ended(self, notice: RunEnded) -> None: ...

    def on_log_line(self, notice: LogLine) -> None: ...


class TrainingService:
    def __init__(
        self, project: Project, *, runners: Mapping[str, RunnerFactory], compilation_cache: str | None = None
    ) -> None:
        self.project = project
        self._runners = dict(runners)
        self._cache = compilation_cache
        self._lease = TrainingLease(project.address)
        self._runner: TrainingRunner | None = None
        self._recorder: RunRecorder | None = None
        self._announced: str | None = None  # the run whose end the listeners were told
        self._logs: dict[str, collections.deque[str]] = {}
        self._listeners: list[TrainingListener] = []
        self._unsubscribe: Callable[[], None] | None = None
        self.interrupted = recover_interrupted(project, self._lease)

    def subscribe(self, listener: TrainingListener) -> Callable[[], None]:
        """Tell ``listener`` about every run from now on; returns a function that stops it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # -- the interface the window uses ---------------------------------------------------
    def start(
        self, config: dict[str, Any], epochs: int, runner: str = "process", continue_run: bool = False
    ) -> str:
        if self.is_running():
            raise ProjectError("a run is already training this project: stop it first")
        if runner not in self._runners:
            raise ProjectError(f"unknown runner {runner!r}: choose {' or '.join(self._runners)}")
        if self._recorder is not None:
            self._recorder.writer.flush()  # the last run's end is in the log before a new run
        if not self._lease.acquire():
            raise ProjectError(
                "another window or process is training this project; stop that run first (one run at a time)"
            )
        try:
            recover_interrupted(self.project, self._lease)
            recorder = RunRecorder.prepare(
                self.project,
                config,
                epochs=epochs,
                runner=runner,
                continue_run=continue_run,
                compilation_cache=self._cache,
            )
        except BaseException:
            self._lease.release()
            raise
        self._recorder = recorder
        run_id = recorder.run_id
        self._logs[run_id] = collections.deque(maxlen=LOG_LINES_KEPT)
        self._runner = self._runners[runner]()
        # The window's runners store blobs off the GUI thread; the events follow in order.
        recorder.writer = self._runner.blob_writer()
        self._unsubscribe = self.project.subscribe(self._on_project_change)
        self._runner.start(recorder.spec, _Reports(self, run_id))
        self._log(run_id, f"run {run_id} started: {epochs} epochs, {runner} runner")
        notice = RunStarted(run_id, epochs, runner)
        for listener in list(self._listeners):
            listener.on_run_started(notice)
        return run_id

    def stop(self) -> None:
        if self._runner is not None and self._recorder is not None and self.is_running():
            self._log(self._recorder.run_id, "stop requested")
            self._runner.stop()

    def is_running(self) -> bool:
        return self._recorder is not None and not self._recorder.ended

    @property
    def runner(self) -> TrainingRunner | None:
        return self._runner

    def log_lines(self, run_id: str) -> list[str]:
        return list(self._logs.get(run_id, ()))

    def config_fields(self) -> list[dict[str, Any]]:
        defaults = TrainingConfig()
        fields = []
        for f in dataclasses.fields(TrainingConfig):
            if f.name not in _LABELS:
                continue
            value = getattr(defaults, f.name)
            field = {"name": f.name, "label": _LABELS[f.name], "default": value}
            if f.name in _UNSET_MEANS:  # may be left empty
                field.update(type="ints", unset=_UNSET_MEANS[f.name])
            else:
                field["type"] = (
                    "ints" if isinstance(value, tuple) else "float" if isinstance(value, float) else "int"
                )
            fields.append(field)
        return fields

    def validate(self, config: dict[str, Any]) -> dict[str, str]:
        """Field name -> what is wrong with it; empty when the config is valid."""
        problems = {}
        base = TrainingConfig().to_dict()
        for name, value in config.items():
            try:
                TrainingConfig.from_dict({**base, name: value})
            except (ConfigError, TypeError, ValueError) as exc:
                problems[name] = str(exc)
        if not problems:
            try:
                TrainingConfig.from_dict({**base, **config})
            except (ConfigError, TypeError, ValueError) as exc:
                problems["config"] = str(exc)
        return problems

    def shutdown(self) -> None:
        """Stop a run and wait for it, recording how it ended (the window is closing)."""
        if self._runner is None:
            return
        if self.is_running():
            self._runner.stop()
            if not self._runner.wait(SHUTDOWN_WAIT_MS):
                self._runner.kill()
                self._runner.wait(SHUTDOWN_WAIT_MS)
            # Deliver what the runner queued before it ended (its last epoch and its
            # end), so nothing it finished is lost.
            self._runner.deliver_pending()
            if self._recorder is not None and self.is_running():
                self._recorder.stopped("the window was closed during the run")
                self._recorder.writer.flush()
                self._finish()
        if self._recorder is not None:
            self._recorder.writer.flush()  # every blob and event of the run is stored
            self._recorder.writer.close()

    # -- from the runner (through _Reports) ------------------------------------------------
    def _on_progress(self, progress: Progress) -> None:
        for listener in list(self._listeners):
            listener.on_progress(progress)

    def _on_epoch(self, output: EpochOutput) -> None:
        if self._recorder is None or not self.is_running():
            return
        diverged = self._recorder.divergence(output)
        if diverged is not None:  # stop it; what the runner reports after this is ignored
            if self._runner is not None:
                self._runner.stop()
            self._recorder.failed(diverged)
            self._end("failed", diverged)
            return
        notice = EpochRecorded(output.run_id, output.epoch, _finite(output.metrics))

        def recorded() -> None:
            for listener in list(self._listeners):
                listener.on_epoch_recorded(notice)

        self._recorder.epoch(output, recorded)

    def _on_failed(self, failure: RunFailure) -> None:
        if self._recorder is None or not self.is_running():
            return
        message = self._recorder.failure_message(failure.message)
        self._recorder.failed(message, failure.exit_code, failure.signal, failure.stderr_tail)
        self._end("failed", message)

    def _end(self, status: str, message: str) -> None:
        recorder = self._recorder
        if recorder is None or self._announced == recorder.run_id:
            return  # a runner stopped for divergence still reports how it ended
        self._announced = recorder.run_id
        if not recorder.ended:
            (recorder.completed if status == "completed" else recorder.stopped)()
        self._log(recorder.run_id, f"run {recorder.run_id} {status}{': ' + message if message else ''}")
        notice = RunEnded(recorder.run_id, status, message)

        def ended(result: object) -> None:  # once the run's last events are in the log
            self._finish()
            for listener in list(self._listeners):
                listener.on_run_ended(notice)

        recorder.writer.submit(_nothing, ended)

    def _finish(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._recorder is not None:
            self._recorder.writer.close()
        self._lease.release()

    def _on_project_change(self, change: ProjectChange) -> None:
        if change.samples and self._runner is not None and self.is_running():
            labels = self.project.labels.labels.copy()
            self._runner.update_labels(labels, self.project.position)

    def _log(self, run_id: str, line: str) -> None:
        self._logs.setdefault(run_id, collections.deque(maxlen=LOG_LINES_KEPT)).append(line)
        notice = LogLine(run_id, line)
        for listener in list(self._listeners):
            listener.on_log_line(notice)


class _Reports:
    """One run's reports, routed to the service (``runner.RunReports``)."""

    def __init__(self, service: TrainingService, run_id: str) -> None:
        self._service, self._run_id = service, run_id
        self._in_traceback = False

    def progressed(self, progress: Progress) -> None:
        self._service._on_progress(progress)

    def epoch_finished(self, output: EpochOutput) -> None:
        self._service._on_epoch(output)

    def finished(self) -> None:
        self._service._end("completed", "")

    def stopped(self) -> None:
        self._service._end("stopped", "")

    def failed(self, failure: RunFailure) -> None:
        self._service._on_failed(failure)

    def log_line(self, line: str) -> None:
        # A worker's traceback (stderr) stays out of the log a person reads: the run's
        # TrainingFailed says what happened in a sentence and keeps the stderr's tail.
        if line.startswith("Traceback (most recent call last)"):
            self._in_traceback = True
            return
        if self._in_traceback:
            if not line[:1].isspace() and line.strip():
                self._in_traceback = False  # "TypeName: text", the traceback's last line
                self._service._log(
                    self._run_id,
                    "(the worker's traceback ends the stderr tail kept in the run's TrainingFailed)",
                )
            return
        self._service._log(self._run_id, line)


def _nothing() -> None:
    return None


def _finite(metrics: dict[str, float | None]) -> dict[str, float | None]:
    return {k: (v if v is None or math.isfinite(v) else None) for k, v in metrics.items()}
