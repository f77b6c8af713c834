"""A run whose loss diverges ends with a sentence, recorded as TrainingFailed, never a traceback."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli.main import main
from app.training.service import TrainingService
from app.training.spec import EpochOutput, RunFailure, RunSpec

from .training_fixtures import SAMPLES, TINY, make_project


def output(spec: RunSpec, epoch: int, loss: float) -> EpochOutput:
    return EpochOutput(
        run_id=spec.run_id,
        epoch=epoch,
        metrics={"loss": loss, "accuracy": 0.5, "seconds": 0.1},
        checkpoint=f"weights {epoch}".encode(),
        probabilities=np.full((SAMPLES, 3), 1 / 3, np.float32),
        latent_map=np.zeros((SAMPLES, 2), np.float32),
        meaningful=True,
        labels_position=spec.labels_position,
        labeled=6,
    )


class ScriptedRunner:
    """Reports the losses it is given, one epoch each, then how the run ended."""

    name = "scripted"

    def __init__(self, losses: list[float], then: str = "finished", log: tuple[str, ...] = ()) -> None:
        self.losses, self.then, self.log = losses, then, log
        self.stops = 0

    def blob_writer(self):
        from app.training.recorder import InlineBlobWriter

        return InlineBlobWriter()

    def start(self, spec, reports) -> None:
        for line in self.log:
            reports.log_line(line)
        for epoch, loss in enumerate(self.losses, start=1):
            reports.epoch_finished(output(spec, epoch, loss))
        if self.then == "finished":
            reports.finished()
        elif self.then == "stopped":
            reports.stopped()
        else:
            reports.failed(RunFailure(self.then, exit_code=1))

    def stop(self) -> None:
        self.stops += 1

    def kill(self) -> None: ...

    def update_labels(self, labels, position) -> None: ...

    def is_running(self) -> bool:
        return False

    def wait(self, ms: int) -> bool:
        return True

    def deliver_pending(self) -> None: ...


class Ends:
    def __init__(self) -> None:
        self.ended, self.lines = [], []

    def on_run_started(self, notice) -> None: ...

    def on_progress(self, progress) -> None: ...

    def on_epoch_recorded(self, notice) -> None: ...

    def on_run_ended(self, notice) -> None:
        self.ended.append(notice)

    def on_log_line(self, notice) -> None:
        self.lines.append(notice.line)


def run_with(tmp_path, runner: ScriptedRunner, learning_rate: float = 1.0):
    _, project = make_project(tmp_path)
    service = TrainingService(project, runners={"scripted": lambda: runner})
    ends = Ends()
    service.subscribe(ends)
    run_id = service.start({**TINY, "learning_rate": learning_rate}, 4, runner="scripted")
    return project, ends, project.state.training.get(run_id)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 250.0 * 1000])
def test_the_service_stops_a_diverging_run_and_records_a_plain_failure(tmp_path, bad):
    runner = ScriptedRunner([250.0, 180.0, bad, 170.0], then="stopped")
    project, ends, run = run_with(tmp_path, runner)
    assert runner.stops == 1
    assert run.status == "failed" and run.epochs == [1, 2]  # the diverged epoch is not recorded
    assert run.message.startswith("the loss diverged at epoch 3")
    assert run.message.endswith("lower the learning rate, now 1.0")
    assert run.checkpoint is not None and run.checkpoint_epoch == 2  # continue from the last good one
    assert [(e.status, e.message) for e in ends.ended] == [("failed", run.message)]  # told once
    assert not service_is_running(project)


def service_is_running(project) -> bool:
    return bool(project.state.training.running)


def test_a_numerical_error_from_a_runner_is_recorded_as_divergence_without_its_traceback(tmp_path):
    traceback = (
        "Traceback (most recent call last):",
        '  File "domain/learning/training.py", line 1, in train',
        "    raise LinAlgError",
        "numpy.linalg.LinAlgError: Eigenvalues did not converge",
        "after the traceback",
    )
    runner = ScriptedRunner([250.0], then="LinAlgError: Eigenvalues did not converge", log=traceback)
    _, ends, run = run_with(tmp_path, runner, learning_rate=0.5)
    assert run.status == "failed"
    assert run.message == (
        "the training's numbers broke down at epoch 2 (Eigenvalues did not converge): "
        "the loss most likely diverged; lower the learning rate, now 0.5"
    )
    assert not any("Traceback" in line or line.startswith("  File") for line in ends.lines)
    assert "after the traceback" in ends.lines


def test_a_loss_that_diverged_inside_an_epoch_is_recorded_with_its_step(tmp_path):
    """What every runner reports when the loop stops at a step (``runs.LossDiverged``)."""
    sentence = "the loss diverged at epoch 3, step 41 (it is not a number); lower the learning rate, now 1.0"
    runner = ScriptedRunner([250.0, 180.0], then=f"LossDiverged: {sentence}")
    _, ends, run = run_with(tmp_path, runner)
    assert run.status == "failed" and run.message == sentence and run.epochs == [1, 2]
    assert [(e.status, e.message) for e in ends.ended] == [("failed", sentence)]


def test_the_learning_rate_is_refused_in_the_forms_words(tmp_path, capsys):
    from app.training.service import TrainingService

    _, project = make_project(tmp_path)
    service = TrainingService(project, runners={})
    problems = service.validate({"learning_rate": 5.0})
    assert problems["learning_rate"].startswith("Learning rate must be between 1e-06 and 1, got 5")
    assert service.validate({"learning_rate": 1.0}) == {}  # 1 passes: it diverges, and says so
    path = project.path
    project.close()
    capsys.readouterr()
    assert main(["train", str(path), "--epochs", "1", "--lr", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Learning rate must be between 1e-06 and 1, got 0" in err


def test_a_healthy_run_is_left_alone(tmp_path):
    _, ends, run = run_with(tmp_path, ScriptedRunner([250.0, 180.0, 170.0, 160.0]))
    assert run.status == "completed" and run.epochs == [1, 2, 3, 4]
    assert [e.status for e in ends.ended] == ["completed"]


def test_the_cli_ends_a_diverging_inline_run_with_one_line(tmp_path, capsys, monkeypatch):
    import app.training.execution as execution

    def diverging(spec, should_stop, *args, **kwargs):
        yield output(spec, 1, 250.0)
        yield output(spec, 2, float("nan"))
        raise AssertionError("the loop is not run past a diverged epoch")

    monkeypatch.setattr(execution, "execute", diverging)
    _, project = make_project(tmp_path)
    path = project.path
    project.close()
    assert main(["train", str(path), "--epochs", "3", "--lr", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        "ledgerlab: error: training failed: the loss diverged at epoch 2 (it is not a number); "
        "lower the learning rate, now 1.0 (recorded as TrainingFailed)"
    )
    assert "epoch 1/3" in captured.out and "epoch 2/3" not in captured.out
    assert main(["info", str(path), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["status"] == "failed" and run["epochs"] == 1


@pytest.mark.slow
def test_a_deliberately_bad_learning_rate_ends_the_real_run_with_a_sentence(tmp_path, capsys):
    """Learning rate 1 (the most validation allows) on a small model: the loss becomes
    NaN at the second step; the loop stops there, before the map of NaN weights fails."""
    _, project = make_project(tmp_path)
    path = project.path
    project.close()
    flags = ["--hidden", "64,32", "--latent", "8", "--batch", "16", "--seed", "5", "--lr", "1"]
    assert main(["train", str(path), "--epochs", "3", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "LinAlgError" not in err
    assert (
        "training failed: the loss diverged at epoch 1, step 2 (it is not a number); "
        "lower the learning rate, now 1.0 (recorded as TrainingFailed)"
    ) in err
    assert main(["info", str(path), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["status"] == "failed"
