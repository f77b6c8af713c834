"""TrainingService: starts and stops runs of one project and records what they report.

It lives on the GUI thread, which is the one writer of training events; runners only
report through signals. Labels assigned while a run trains are handed to the runner and
used from the next epoch on.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal

from app.project.errors import ProjectError
from app.training.lease import TrainingLease
from app.training.recorder import RunRecorder, recover_interrupted
from app.ui.training_runners import RUNNERS, TrainingRunner
from domain.learning.config import ConfigError, TrainingConfig

LOG_LINES_KEPT = 1_000
SHUTDOWN_WAIT_MS = 15_000

_LABELS = {
    "epochs": "Epochs", "learning_rate": "Learning rate", "batch_size": "Batch size",
    "labeled_batch_size": "Labeled batch", "latent_size": "Latent size",
    "hidden_sizes": "Hidden sizes", "classifier_hidden_sizes": "Classifier hidden sizes",
    "reconstruction_weight": "Reconstruction weight",
    "kl_weight": "KL weight", "classifier_weight": "Classifier weight", "seed": "Seed",
}

# Settings that may be left empty, and what empty means.
_UNSET_MEANS = {"classifier_hidden_sizes": "same as Hidden sizes"}


class TrainingService(QObject):
    run_started = Signal(object)     # {"run_id", "epochs", "runner"}
    progress = Signal(object)        # {"run_id", "epoch", "step", "steps", "eta_s"}
    epoch_recorded = Signal(object)  # {"run_id", "epoch", "metrics"}
    run_ended = Signal(object)       # {"run_id", "status", "message"}
    log_line = Signal(object)        # {"run_id", "line"}

    def __init__(self, project, *, compilation_cache: str | None = None,
                 runners: dict[str, type[TrainingRunner]] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self._runners = runners or RUNNERS
        self._cache = compilation_cache
        self._lease = TrainingLease(project.path)
        self._runner: TrainingRunner | None = None
        self._recorder: RunRecorder | None = None
        self._logs: dict[str, collections.deque[str]] = {}
        self._unsubscribe = None
        self.interrupted = recover_interrupted(project, self._lease)

    # -- the interface the window uses ---------------------------------------------------
    def start(self, config: dict[str, Any], epochs: int, runner: str = "process",
              continue_run: bool = False) -> str:
        if self.is_running():
            raise ProjectError("a run is already training this project: stop it first")
        if runner not in self._runners:
            raise ProjectError(f"unknown runner {runner!r}: choose {' or '.join(self._runners)}")
        if not self._lease.acquire():
            raise ProjectError("another window or process is training this project; "
                               "stop that run first (one run at a time)")
        try:
            recover_interrupted(self.project, self._lease)
            recorder = RunRecorder.prepare(
                self.project, config, epochs=epochs, runner=runner, continue_run=continue_run,
                compilation_cache=self._cache)
        except BaseException:
            self._lease.release()
            raise
        self._recorder = recorder
        run_id = recorder.run_id
        self._logs[run_id] = collections.deque(maxlen=LOG_LINES_KEPT)
        self._runner = self._runners[runner](self)
        self._connect(self._runner, run_id)
        self._unsubscribe = self.project.subscribe(self._on_project_change)
        self._runner.start(recorder.spec)
        self._log(run_id, f"run {run_id} started: {epochs} epochs, {runner} runner")
        self.run_started.emit({"run_id": run_id, "epochs": epochs, "runner": runner})
        return run_id

    def stop(self) -> None:
        if self._runner is not None and self.is_running():
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
                field["type"] = "ints" if isinstance(value, tuple) else \
                    "float" if isinstance(value, float) else "int"
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
            if not self._runner.wait(SHUTDOWN_WAIT_MS) and hasattr(self._runner, "kill"):
                self._runner.kill()
                self._runner.wait(SHUTDOWN_WAIT_MS)
            # Deliver what the runner's thread queued before it ended (its last epoch
            # and its end), so nothing it finished is lost.
            QCoreApplication.sendPostedEvents(self._runner)
            QCoreApplication.sendPostedEvents(self)
            if self.is_running():
                self._recorder.stopped("the window was closed during the run")
                self._finish()

    # -- from the runner -----------------------------------------------------------------------
    def _connect(self, runner: TrainingRunner, run_id: str) -> None:
        runner.progressed.connect(lambda p: self.progress.emit(p.as_dict()))
        runner.epoch_finished.connect(self._on_epoch)
        runner.finished.connect(lambda _: self._end("completed", ""))
        runner.stopped.connect(lambda _: self._end("stopped", ""))
        runner.failed.connect(self._on_failed)
        runner.log_line.connect(lambda line: self._log(run_id, line))

    def _on_epoch(self, output) -> None:
        if not self.is_running():
            return
        self._recorder.epoch(output)
        self.epoch_recorded.emit({"run_id": output.run_id, "epoch": output.epoch,
                                  "metrics": _finite(output.metrics)})

    def _on_failed(self, info: dict) -> None:
        if not self.is_running():
            return
        self._recorder.failed(info["message"], info.get("exit_code"), info.get("signal"),
                              tuple(info.get("stderr_tail") or ()))
        self._end("failed", info["message"])

    def _end(self, status: str, message: str) -> None:
        recorder = self._recorder
        if recorder is None:
            return
        if not recorder.ended:
            (recorder.completed if status == "completed" else recorder.stopped)()
        self._log(recorder.run_id, f"run {recorder.run_id} {status}{': ' + message if message else ''}")
        self._finish()
        self.run_ended.emit({"run_id": recorder.run_id, "status": status, "message": message})

    def _finish(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._lease.release()

    def _on_project_change(self, change) -> None:
        if change.samples and self._runner is not None and self.is_running():
            labels = self.project.labels.labels.copy()
            self._runner.update_labels(labels, self.project.position)

    def _log(self, run_id: str, line: str) -> None:
        self._logs.setdefault(run_id, collections.deque(maxlen=LOG_LINES_KEPT)).append(line)
        self.log_line.emit({"run_id": run_id, "line": line})


def _finite(metrics: dict) -> dict:
    return {k: (v if v is None or math.isfinite(v) else None) for k, v in metrics.items()}
