"""The Runs panel (issue 17) with real widgets: runs side by side, curves of one or two
runs overlaid, "Use this run" driving the predictions the window shows, archiving, and
named presets of the training form."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from domain.training_events import TrainingCompleted

from .conftest import SAMPLES
from .test_training_accuracy_window import open_project, record_run


def confident(cls: int) -> np.ndarray:
    p = np.full((SAMPLES, 10), 0.01, np.float32)
    p[:, cls] = 0.91
    return p


def two_runs(application, project_path) -> None:
    with application.projects.open(project_path) as project:
        record_run(project, "r1", 2, predictions=confident(3), end=TrainingCompleted("r1", 2))
        record_run(project, "r2", 3, predictions=confident(7), end=TrainingCompleted("r2", 3))


def row_of(panel, run_id: str) -> int:
    return next(r for r, row in enumerate(panel.rows) if row.run_id == run_id)


def click_row(qtbot, panel, run_id: str, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    table = panel.table
    rect = table.visualItemRect(table.item(row_of(panel, run_id), 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def test_runs_are_listed_compared_and_chosen(qtbot, make_session, project_path, application):
    two_runs(application, project_path)
    session = open_project(qtbot, make_session, project_path)
    window = session.window
    window.runs_dock.raise_()
    panel = window.runs_panel
    qtbot.waitUntil(lambda: len(panel.rows) == 2)
    assert panel.table.item(row_of(panel, "r2"), 0).text() == "r2  (drives)"
    assert window.predictions.get().argmax(axis=1).tolist() == [7] * SAMPLES

    click_row(qtbot, panel, "r1")
    assert list(panel.curves) == ["r1"]
    click_row(qtbot, panel, "r2", Qt.KeyboardModifier.ControlModifier)
    assert set(panel.curves) == {"r1", "r2"} and len(set(panel.curves.values())) == 2
    assert len(panel.loss_plot.listDataItems()) == 2  # overlaid on the same axes

    click_row(qtbot, panel, "r1")
    qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.predictions.get().argmax(axis=1).tolist() == [3] * SAMPLES)
    qtbot.waitUntil(lambda: panel.table.item(row_of(panel, "r1"), 0).text() == "r1  (drives)")
    assert [e.type for e in window.project.events() if e.stream_id == "models"] == ["RunChosen"]
    assert panel.selected_ids() == ["r1"]  # the selection survives the refresh


def test_archived_runs_are_hidden_unless_asked_for(qtbot, make_session, project_path, application):
    two_runs(application, project_path)
    session = open_project(qtbot, make_session, project_path)
    session.window.runs_dock.raise_()
    panel = session.window.runs_panel
    qtbot.waitUntil(lambda: len(panel.rows) == 2)
    click_row(qtbot, panel, "r2")
    assert panel.archive_button.text() == "Archive"
    qtbot.mouseClick(panel.archive_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: [r.run_id for r in panel.rows] == ["r1"])
    # The archived run's predictions no longer drive the window: r1's do.
    qtbot.waitUntil(lambda: session.window.predictions.get().argmax(axis=1).tolist() == [3] * SAMPLES)
    panel.show_archived.setChecked(True)
    assert [r.run_id for r in panel.rows] == ["r1", "r2"]
    click_row(qtbot, panel, "r2")
    assert panel.archive_button.text() == "Unarchive" and not panel.use_button.isEnabled()
    qtbot.mouseClick(panel.archive_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not any(r.archived for r in panel.rows))
    assert "&Model…" in [a.text() for a in _export_menu(session.window).actions()]


def test_a_preset_saves_the_form_and_puts_it_back(qtbot, make_session, project_path):
    from .test_training_panel import open_with_training

    session, _ = open_with_training(qtbot, make_session, project_path)
    session.window.runs_dock.raise_()
    panel, form = session.window.runs_panel, session.window.training.settings_form
    editor = form.fields["learning_rate"][1]
    editor.setText("0.0005")
    panel.preset_name.setText("slow")
    qtbot.mouseClick(panel.save_preset_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.presets.findText("slow") >= 0)
    (event,) = [e for e in session.window.project.events() if e.type == "PresetSaved"]
    assert event.data["name"] == "slow" and event.data["config"]["learning_rate"] == 0.0005
    editor.setText("0.002")
    panel.presets.setCurrentText("slow")
    qtbot.mouseClick(panel.apply_preset_button, Qt.MouseButton.LeftButton)
    assert float(editor.text()) == 0.0005


def _export_menu(window):
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    return next(a.menu() for a in file_menu.actions() if a.text() == "&Export")


def test_the_selected_runs_model_is_exported_from_the_panel(
    qtbot, make_session, project_path, application, tmp_path
):
    import jax

    from app.history.bundle import read_bundle
    from domain.learning import checkpoint as checkpoints
    from domain.learning.config import TrainingConfig
    from domain.learning.step import initial_state
    from domain.training_events import CheckpointSaved

    two_runs(application, project_path)
    _, state = initial_state(TrainingConfig(), 64, 10, jax.random.PRNGKey(0))
    saved = checkpoints.to_bytes(state.params, state.opt_state)
    with application.projects.open(project_path) as project:
        project.record("run-r1", [CheckpointSaved("r1", 2, project.put_blob(saved), len(saved))])
    session = open_project(qtbot, make_session, project_path)
    session.window.runs_dock.raise_()
    panel = session.window.runs_panel
    qtbot.waitUntil(lambda: len(panel.rows) == 2)
    click_row(qtbot, panel, "r2")
    assert not panel.export_button.isEnabled()  # r2 saved no checkpoint
    click_row(qtbot, panel, "r1")
    assert panel.export_button.isEnabled()
    assert panel.export_to(tmp_path / "r1.llmodel")
    bundle = read_bundle(tmp_path / "r1.llmodel")
    assert (bundle.manifest["run_id"], bundle.manifest["epoch"]) == ("r1", 2)
    assert bundle.class_names == [str(d) for d in range(10)] and bundle.input_shape == (8, 8)
    assert "r1.llmodel" in session.window.statusBar().currentMessage()


def test_using_another_run_refreshes_the_suggestion_queue(qtbot, make_session, project_path, application):
    two_runs(application, project_path)
    session = open_project(qtbot, make_session, project_path)
    window = session.window
    window.runs_dock.raise_()
    panel = window.runs_panel
    qtbot.waitUntil(lambda: len(panel.rows) == 2, timeout=20_000)

    def suggestions_made() -> int:
        return sum(e.type == "SuggestionsMade" for e in window.project.events())

    window.labeling.request_suggestions()  # S on an empty queue asks for a batch
    qtbot.waitUntil(lambda: suggestions_made() == 1, timeout=20000)
    click_row(qtbot, panel, "r1")
    qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
    # r1's predictions now drive the window: the queue in use is asked for again
    qtbot.waitUntil(lambda: suggestions_made() == 2, timeout=20000)
