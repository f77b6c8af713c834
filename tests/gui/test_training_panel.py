"""The training panel driven by a stand-in service that tells its listeners what the
TrainingService would (the real service has its own tests): form validation,
start/stop, live progress."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.training.spec import EpochRecorded, LogLine, Progress, RunEnded, RunStarted

from .conftest import activate

FIELDS = [
    {"name": "epochs", "label": "Epochs", "type": "int", "default": 3},
    {"name": "learning_rate", "label": "Learning rate", "type": "float", "default": 0.001},
    {"name": "hidden_sizes", "label": "Hidden sizes", "type": "ints", "default": (512, 256)},
]


class _Notices:
    """``emit(fields)`` tells every listener the notice those fields make."""

    def __init__(self, service, method: str, notice: type) -> None:
        self._service, self._method, self._notice = service, method, notice

    def emit(self, fields: dict) -> None:
        notice = self._notice(**fields)
        for listener in list(self._service.listeners):
            getattr(listener, self._method)(notice)


class FakeTrainingService:
    def __init__(self, project=None) -> None:
        self.listeners: list = []
        self.run_started = _Notices(self, "on_run_started", RunStarted)
        self.progress = _Notices(self, "on_progress", Progress)
        self.epoch_recorded = _Notices(self, "on_epoch_recorded", EpochRecorded)
        self.run_ended = _Notices(self, "on_run_ended", RunEnded)
        self.log_line = _Notices(self, "on_log_line", LogLine)
        self.started: list[tuple] = []
        self.stops = 0
        self.running = False
        self.shut_down = False

    def start(self, config, epochs, runner="process", continue_run=False) -> str:
        self.started.append((config, epochs, runner, continue_run))
        self.running = True
        self.log_line.emit({"run_id": "run-1", "line": "run run-1 started"})
        self.run_started.emit({"run_id": "run-1", "epochs": epochs, "runner": runner})
        return "run-1"

    def stop(self) -> None:
        self.stops += 1

    def subscribe(self, listener):
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    def is_running(self) -> bool:
        return self.running

    def log_lines(self, run_id):
        return ["run run-1 started"]

    def config_fields(self):
        return FIELDS

    def validate(self, config):
        problems = {}
        if config.get("learning_rate", 1) <= 0:
            problems["learning_rate"] = "learning_rate must be > 0"
        return problems

    def shutdown(self) -> None:
        self.shut_down = True


def open_with_training(qtbot, make_session, project_path, service_class=None):
    services = []

    def factory(project):
        services.append((service_class or FakeTrainingService)(project))
        return services[-1]

    session = make_session(training_factory=factory)
    session.window.show()
    activate(session.window)
    with qtbot.waitSignal(session.window.project_opened, timeout=20_000):
        session.open(project_path)
    return session, services[0]


def test_without_a_service_training_is_shown_unavailable(qtbot, workbench):
    panel = workbench.window.training
    assert panel.unavailable.isVisible()
    assert not panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert "training unavailable" in workbench.window.training_status.text()


def test_a_bad_value_is_explained_next_to_its_field_and_blocks_start(qtbot, make_session, project_path):
    session, service = open_with_training(qtbot, make_session, project_path)
    panel = session.window.training
    rate = panel.fields["learning_rate"][1]
    assert panel.start_button.isEnabled()
    rate.clear()
    qtbot.keyClicks(rate, "-1")
    error = panel.fields["learning_rate"][2]
    assert error.isVisible() and error.text() == "Learning rate must be > 0"  # the form's words
    assert not panel.start_button.isEnabled()
    rate.setText("abc")
    assert error.text() == "a number, e.g. 0.001"
    rate.setText("0.01")
    assert not error.isVisible() and panel.start_button.isEnabled()
    assert session.project.labels.labeled == 0  # typing digits did not label anything


def test_start_shows_progress_curves_and_log_and_stop_asks_the_service(qtbot, make_session, project_path):
    session, service = open_with_training(qtbot, make_session, project_path)
    window, panel = session.window, session.window.training
    panel.fields["hidden_sizes"][1].setText("64, 32")
    panel.runner.setCurrentIndex(panel.runner.findData("thread"))
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)

    config = {"epochs": 3, "learning_rate": 0.001, "hidden_sizes": (64, 32)}
    ((sent, epochs, runner, resumed),) = service.started
    assert {name: sent[name] for name in config} == config and (epochs, runner, resumed) == (
        3,
        "thread",
        False,
    )
    assert panel.stop_button.isEnabled() and not panel.start_button.isEnabled()
    assert "training (thread runner)" in window.training_status.text()

    service.progress.emit({"run_id": "run-1", "epoch": 2, "step": 5, "steps": 10, "eta_s": 75.0})
    assert panel.progress.value() == 500  # 1.5 of 3 epochs
    assert panel.eta.text() == "ETA 1 min 15 s"
    for epoch, loss in ((1, 200.0), (2, 150.0)):
        service.epoch_recorded.emit(
            {
                "run_id": "run-1",
                "epoch": epoch,
                "metrics": {
                    "loss": loss,
                    "reconstruction": loss - 20,
                    "kl": 10.0,
                    "classification": 2.0,
                    "accuracy": 0.5 + epoch / 10,
                    "seconds": 3.0,
                    "samples_per_s": 3000.0,
                },
            }
        )
    qtbot.waitUntil(
        lambda: panel.curves["loss"].getData()[0] is not None and len(panel.curves["loss"].getData()[0]) == 2,
        timeout=2_000,
    )
    assert np.allclose(10 ** panel.curves["loss"].getData()[1], [200.0, 150.0])  # drawn on a log axis
    assert list(panel.curves["accuracy"].getData()[1]) == [0.6, 0.7]
    # No label was held out or compared: the headline says so; training accuracy is named as such.
    assert (
        "training: epoch 2 of 3, accuracy: too few labels to estimate (none held out or compared yet, 20 needed)"
        in window.training_status.text()
    )
    service.log_line.emit({"run_id": "run-1", "line": "epoch 2: loss 150.0"})
    lines = panel.log.toPlainText().splitlines()
    assert lines[0] == "run run-1 started" and lines[-1] == "epoch 2: loss 150.0"
    assert (
        "epoch 2: accuracy: too few labels to estimate (none held out or compared yet, 20 needed); training accuracy (own labels) 70%"
        in lines
    )

    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert service.stops == 1
    service.running = False
    service.run_ended.emit({"run_id": "run-1", "status": "stopped", "message": ""})
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert "last run stopped" in window.training_status.text()


def test_the_service_is_shut_down_with_the_session(qtbot, make_session, project_path):
    session, service = open_with_training(qtbot, make_session, project_path)
    session.shutdown()
    assert service.shut_down


def test_the_demo_labels_trains_and_saves_a_screenshot(qtbot, make_session, tmp_path):
    from app.ui.demo import Demo

    services = []

    def factory(project):
        services.append(FakeTrainingService(project))
        return services[-1]

    session = make_session(training_factory=factory)
    session.window.show()
    shot = tmp_path / "demo.png"
    demo = Demo(session, tmp_path / "demo.ledger", labels=30, epochs=2, runner="thread", screenshot=shot)
    demo.start()
    qtbot.waitUntil(lambda: bool(services and services[0].started), timeout=60_000)
    assert session.project.labels.labeled == 30
    assert list(session.project.labels.counts) == [3] * 10
    assert services[0].started[0][1:3] == (2, "thread")
    with qtbot.waitSignal(demo.done, timeout=10_000):
        services[0].run_ended.emit({"run_id": "run-1", "status": "completed", "message": ""})
    assert shot.stat().st_size > 10_000 and demo.outcome == "completed"


def test_the_real_settings_form_starts_valid_and_an_empty_optional_field_means_unset(
    qtbot, make_session, project_path
):
    from app.training.service import TrainingService
    from app.ui.training_runners import qt_runners

    def real(project):
        return TrainingService(project, runners=qt_runners())

    session, _ = open_with_training(qtbot, make_session, project_path, real)
    panel = session.window.training
    assert panel.start_button.isEnabled(), panel.config_error.text()
    edit = panel.fields["classifier_hidden_sizes"][1]
    assert edit.text() == "" and edit.placeholderText() == "same as Hidden sizes"
    assert panel.config()[0]["classifier_hidden_sizes"] is None
    qtbot.keyClicks(edit, "64, 32")
    assert panel.config()[0]["classifier_hidden_sizes"] == (64, 32)
    assert panel.start_button.isEnabled()
    edit.setText("0")
    assert (
        "Classifier hidden sizes[0] must be a whole number"
        in panel.fields["classifier_hidden_sizes"][2].text()
    )
    assert not panel.start_button.isEnabled()
