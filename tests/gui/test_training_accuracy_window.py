"""The training panel's headline accuracy (issue 12/16) and what the window says about
earlier runs on opening (issue 15): runs are recorded in a real project as a runner
records them, then the window opens it."""

from __future__ import annotations

import io
import math

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel, QWidget

from app.training.service import TrainingService
from app.ui.training_plots import ACCURACY_TITLE, TRAINING_NAME
from app.ui.training_runners import qt_runners
from domain.accuracy import wilson_interval
from domain.events import LatentMapComputed
from domain.initial_map import encode_map
from domain.training_events import (
    EpochCompleted,
    PredictionsComputed,
    TrainingFailed,
    TrainingStarted,
    run_stream,
)

from .conftest import SAMPLES
from .test_training_panel import FakeTrainingService, open_with_training

HELD_OUT = ((4, 10), (30, 50), (44, 50))  # (correct, n) per epoch: too few, then enough


def record_run(project, run_id: str, epochs: int, *, held_out=HELD_OUT, end=None, predictions=None) -> None:
    """A run as the recorder writes it: started, epochs (metrics, map, predictions), an end."""
    rng = np.random.default_rng(1)
    stream = run_stream(run_id)
    project.record(stream, [TrainingStarted(run_id, {}, 0, epochs, project.position, "d", {}, "thread")])
    for epoch in range(1, epochs + 1):
        metrics = {"loss": 100.0 / epoch, "reconstruction": 90.0 / epoch, "kl": 5.0, "classification": 1.0}
        metrics["accuracy"] = 1.0  # on its own labels: always perfect, says nothing
        if held_out is not None:
            correct, n = held_out[epoch - 1]
            metrics.update(heldout_correct=float(correct), heldout_n=float(n), heldout_accuracy=correct / n)
        probabilities = predictions if predictions is not None else rng.dirichlet(np.ones(10), size=SAMPLES)
        buffer = io.BytesIO()
        np.save(buffer, probabilities.astype(np.float32))
        coords = rng.normal(size=(SAMPLES, 2)).astype(np.float32)
        project.record(
            stream,
            [
                EpochCompleted(run_id, epoch, metrics, project.position, 30),
                LatentMapComputed(
                    project.put_blob(encode_map(coords)), SAMPLES, 2, "vae-class-polygon", run_id
                ),
                PredictionsComputed(run_id, epoch, project.put_blob(buffer.getvalue()), SAMPLES, 10, True),
            ],
        )
    if end is not None:
        project.record(stream, [end])


def real_service(project):
    return TrainingService(project, runners=qt_runners())


def open_project(qtbot, make_session, project_path, factory=None):
    session = make_session(training_factory=factory)
    session.window.show()
    with qtbot.waitSignal(session.window.project_opened, timeout=20_000):
        session.open(project_path)
    return session


def test_the_headline_is_the_held_out_estimate_with_its_band_and_training_accuracy_is_secondary(
    qtbot, make_session, project_path, application
):
    with application.projects.open(project_path) as project:
        record_run(project, "r1", 3, end=TrainingFailed("r1", 3, "the loss diverged at epoch 3, step 41"))
    session = open_project(qtbot, make_session, project_path)
    panel = session.window.training
    plots = panel.plots

    assert "labeled samples" not in plots.accuracy_plot.getPlotItem().titleLabel.text
    assert ACCURACY_TITLE in plots.accuracy_plot.getPlotItem().titleLabel.text
    x, y = panel.curves["honest"].getData()
    assert list(x) == [1, 2, 3]
    assert math.isnan(y[0])  # 10 held out: too few for a number, a gap in the curve
    assert np.allclose(y[1:], [0.6, 0.88])
    low, high = wilson_interval(44, 50)
    assert np.isclose(plots.band_low.getData()[1][2], low) and np.isclose(
        plots.band_high.getData()[1][2], high
    )
    assert plots.band.path().boundingRect().height() > 0  # the band is drawn between them
    assert list(panel.curves["accuracy"].getData()[1]) == [1.0, 1.0, 1.0]  # training accuracy, beside it
    assert panel.curves["accuracy"].opts["pen"].width() < panel.curves["honest"].opts["pen"].width()
    legend = plots.findChild(QWidget, "accuracyLegend")
    assert any(TRAINING_NAME in label.text() for label in legend.findChildren(QLabel))

    said = f"accuracy 88% (95% interval {round(low * 100)}%–{round(high * 100)}%, n = 50 held-out)"
    assert plots.estimate_caption.text() == said
    assert said in session.window.training_status.text()
    assert session.window.training_status.text().startswith("last run failed")


def test_too_few_labels_says_so_instead_of_a_number(qtbot, make_session, project_path, application):
    with application.projects.open(project_path) as project:
        record_run(project, "r1", 1)
    session = open_project(qtbot, make_session, project_path)
    caption = session.window.training.plots.estimate_caption.text()
    assert caption == "accuracy: too few labels to estimate (10 held-out, 20 needed)"
    drawn = session.window.training.curves["honest"].getData()[1]
    assert drawn is None or len(drawn) == 0  # no point at all


def test_without_held_out_labels_the_prospective_accuracy_is_the_headline(
    qtbot, make_session, project_path, application
):
    """Labels given while the run's predictions were in force, compared with them."""
    predicted = np.zeros((SAMPLES, 10))
    predicted[np.arange(SAMPLES), np.arange(SAMPLES) % 10] = 1.0  # the model says: sample % 10
    with application.projects.open(project_path) as project:
        record_run(project, "r1", 1, held_out=None, predictions=predicted)
        for sample in range(30):  # 24 agree with the prediction in force, 6 do not
            project.assign_label(sample, sample % 10 if sample < 24 else (sample + 1) % 10)
        project.record(run_stream("r1"), [EpochCompleted("r1", 2, {"loss": 1.0}, project.position, 30)])
    session = open_project(qtbot, make_session, project_path)
    panel = session.window.training
    x, y = panel.curves["honest"].getData()
    assert list(x) == [1, 2] and math.isnan(y[0]) and np.isclose(y[1], 0.8)  # epoch 1: nothing compared yet
    low, high = wilson_interval(24, 30)
    said = f"accuracy 80% (95% interval {round(low * 100)}%–{round(high * 100)}%, n = 30 prospective)"
    assert panel.plots.estimate_caption.text() == said


def test_a_live_epoch_updates_the_curve_status_and_log_with_the_estimate(qtbot, make_session, project_path):
    session, service = open_with_training(qtbot, make_session, project_path, FakeTrainingService)
    panel, window = session.window.training, session.window
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    service.epoch_recorded.emit(
        {
            "run_id": "run-1",
            "epoch": 1,
            "metrics": {"loss": 50.0, "accuracy": 0.99, "heldout_correct": 45.0, "heldout_n": 60.0},
        }
    )
    low, high = wilson_interval(45, 60)
    said = f"accuracy 75% (95% interval {round(low * 100)}%–{round(high * 100)}%, n = 60 held-out)"
    assert f"training: epoch 1 of 3, {said}" == window.training_status.text()
    assert f"epoch 1: {said}; training accuracy (own labels) 99%" in panel.log.toPlainText()
    qtbot.waitUntil(lambda: len(panel.curves["honest"].getData()[0] or []) == 1, timeout=2_000)
    assert np.isclose(panel.curves["honest"].getData()[1][0], 0.75)


def test_on_opening_the_window_says_how_the_last_run_ended_and_draws_its_curves(
    qtbot, make_session, project_path, application
):
    with application.projects.open(project_path) as project:
        record_run(project, "r1", 3, end=TrainingFailed("r1", 3, "the loss diverged at epoch 3, step 41"))
    session = open_project(qtbot, make_session, project_path)
    panel = session.window.training
    assert (
        "Last run r1 failed after 3 epochs: the loss diverged at epoch 3, step 41." in panel.log.toPlainText()
    )
    assert panel.eta.text() == "Last run failed after 3 epochs: the loss diverged at epoch 3, step 41"
    assert list(panel.curves["loss"].getData()[0]) == [1, 2, 3]  # not an empty panel
    assert "last run failed" in session.window.training_status.text()


def test_a_run_whose_trainer_was_killed_reads_as_interrupted_on_opening(
    qtbot, make_session, project_path, application
):
    with application.projects.open(project_path) as project:
        record_run(project, "r1", 2)  # no end: its process was killed
    session = open_project(qtbot, make_session, project_path, real_service)
    panel = session.window.training
    assert session.project.state.training.get("r1").status == "interrupted"
    assert "Last run r1 was interrupted after 2 epochs" in panel.log.toPlainText()
    assert "Continue from the latest checkpoint" not in panel.log.toPlainText()  # nothing kept to go on from
    assert "last run interrupted" in session.window.training_status.text()
    assert list(panel.curves["loss"].getData()[0]) == [1, 2]
    assert panel.start_button.isEnabled()


def test_a_window_without_training_still_reads_a_killed_run_as_interrupted(
    qtbot, make_session, project_path, application
):
    with application.projects.open(project_path) as project:
        record_run(project, "r1", 1)
    session = open_project(qtbot, make_session, project_path)
    assert session.project.state.training.get("r1").status == "interrupted"
    assert "was interrupted after 1 epoch " in session.window.training.log.toPlainText()


def test_the_settings_form_names_the_newer_settings_in_its_own_words(qtbot, make_session, project_path):
    session = open_project(qtbot, make_session, project_path, real_service)
    panel = session.window.training
    form = panel.settings_form.form
    labels = {
        form.labelForField(form.itemAt(row, form.ItemRole.FieldRole).layout()).text()
        for row in range(form.rowCount())
    }
    assert {"Warp strength", "Distribution alignment", "Held-out share"} <= labels
    warp = panel.fields["augment_warp"][1]
    warp.setText("0.9")
    error = panel.fields["augment_warp"][2]
    assert error.isVisible() and error.text().startswith("Warp strength must be")
    assert "augment_warp" not in error.text() and not panel.start_button.isEnabled()
    warp.setText("0.2")
    alignment = panel.fields["distribution_alignment"][1]
    qtbot.mouseClick(alignment, Qt.MouseButton.LeftButton, pos=QPoint(8, alignment.height() // 2))
    values, problems = panel.config()
    assert not problems and values["augment_warp"] == 0.2 and values["distribution_alignment"] is False
    assert panel.start_button.isEnabled()


def test_an_epoch_reads_with_its_held_out_accuracy_first_in_the_history(project_path, application):
    with application.projects.open(project_path) as project:
        record_run(project, "r1", 3)
        epoch = next(
            EpochCompleted.from_data(e.data)
            for e in project.events()
            if e.type == "EpochCompleted" and e.data["epoch"] == 3
        )
    assert epoch.summary() == (
        "run r1 epoch 3: loss 33.333, held-out acc 88.0% (n 50), training acc (own labels) 100.0%, 30 labeled"
    )
