"""The selection gallery drops tiles and follows labels (issue 16), File → Export →
Predictions… writes the latest model's predictions (issue 12), and closing during a
run records what the person chose (issue 16)."""

from __future__ import annotations

import csv

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.ui.selection_gallery import close_rect
from domain.training_events import WINDOW_STREAM, CloseDuringRunChosen

from .test_training_accuracy_window import record_run
from .test_training_panel import open_with_training


def gallery_ready(qtbot, window, samples) -> None:
    window.selection.select(samples)  # as a lasso or rectangle on the map selects them
    qtbot.waitUntil(lambda: window.viewer.grid.count() == len(samples), timeout=2_000)


def tile(grid, sample: int):
    return next(
        grid.item(r) for r in range(grid.count()) if grid.item(r).data(Qt.ItemDataRole.UserRole) == sample
    )


def test_a_tile_leaves_the_selection_by_its_cross_or_by_delete(qtbot, workbench):
    window, project = workbench.window, workbench.project
    project.assign_label(8, 1)
    gallery_ready(qtbot, window, [3, 5, 8, 13])
    grid = window.viewer.grid

    cross = close_rect(grid.visualItemRect(tile(grid, 5))).center()
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=cross)
    assert window.selection.samples.tolist() == [3, 8, 13]
    qtbot.waitUntil(lambda: grid.count() == 3, timeout=2_000)

    qtbot.mouseClick(
        grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.visualItemRect(tile(grid, 8)).center()
    )
    assert window.selection.current == 8 and len(window.selection) == 3  # a click on a tile only shows it
    grid.setFocus()  # (the click gives it the focus on a real screen)
    qtbot.keyClick(grid, Qt.Key.Key_Delete)
    assert window.selection.samples.tolist() == [3, 13]
    assert project.labels.label_of(8) == 1  # Delete in the gallery drops the tile, not the label
    qtbot.waitUntil(lambda: grid.count() == 2, timeout=2_000)
    assert window.selection.current == 13  # the next one left

    qtbot.keyClick(grid, Qt.Key.Key_4)  # the class keys still label the selection
    assert [project.labels.label_of(s) for s in (3, 13)] == [4, 4] and project.labels.label_of(5) < 0


def test_the_gallery_captions_follow_every_label_change(qtbot, workbench):
    window, project = workbench.window, workbench.project
    gallery_ready(qtbot, window, [3, 13, 23])
    grid = window.viewer.grid
    assert grid.captions() == ["3 ·", "13 ·", "23 ·"]
    qtbot.keyClick(window, Qt.Key.Key_6)
    qtbot.waitUntil(lambda: grid.captions() == ["3 6", "13 6", "23 6"], timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: grid.captions() == ["3 ·", "13 ·", "23 ·"], timeout=2_000)
    project.assign_label(23, 2)  # a change that did not come from the gallery's keys
    qtbot.waitUntil(lambda: grid.captions() == ["3 ·", "13 ·", "23 2"], timeout=2_000)


def file_action(window, *path: str):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    for text in path:
        action = next(a for a in menu.actions() if a.text() == text)
        menu = action.menu() or menu
    return action


def test_file_export_predictions_writes_the_latest_runs_predictions(qtbot, workbench, tmp_path, monkeypatch):
    window, project = workbench.window, workbench.project
    project.assign_label(7, 3)
    record_run(project, "r1", 2)
    target = tmp_path / "out" / "predictions"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV (*.csv)"))
    file_action(window, "&Export", "&Predictions…").trigger()
    written = target.with_suffix(".csv")
    qtbot.waitUntil(lambda: "Exported" in window.statusBar().currentMessage(), timeout=10_000)
    assert "the predictions of 300 samples (run r1, epoch 2)" in window.statusBar().currentMessage()
    with written.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 300 and list(rows[0])[:4] == ["sample", "predicted", "confidence", "label"]
    assert rows[7]["label"] == "3" and rows[8]["label"] == ""
    assert np.isclose(sum(float(rows[0][str(c)]) for c in range(10)), 1.0, atol=1e-4)


def test_export_predictions_with_no_model_says_what_to_do(qtbot, workbench, tmp_path, monkeypatch):
    window = workbench.window
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "p.csv"), ""))
    file_action(window, "&Export", "&Predictions…").trigger()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=10_000)
    assert "train the model on some labels first" in window.last_error.text()
    assert not (tmp_path / "p.csv").exists()


def close_choices(project) -> list[CloseDuringRunChosen]:
    return [
        CloseDuringRunChosen.from_data(e.data) for e in project.events() if e.type == "CloseDuringRunChosen"
    ]


def test_closing_during_a_run_records_the_choice(qtbot, make_session, project_path):
    session, service = open_with_training(qtbot, make_session, project_path)
    window, project = session.window, session.project
    window.training.start()
    window.close()
    stop = next(b for b in window.close_question.buttons() if b.text() == "Stop the run")
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    assert close_choices(project) == [CloseDuringRunChosen("run-1", "stop")]
    recorded = [e for e in project.events() if e.type == "CloseDuringRunChosen"]
    assert recorded[0].stream_id == WINDOW_STREAM
    assert CloseDuringRunChosen("run-1", "stop").summary() == "window closed during run run-1: stop the run"


def test_keeping_the_run_is_recorded_too(qtbot, make_session, project_path):
    session, service = open_with_training(qtbot, make_session, project_path)
    window, project = session.window, session.project
    window.training.start()
    window.close()
    keep = next(b for b in window.close_question.buttons() if b.text() == "Keep training")
    qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
    assert close_choices(project) == [CloseDuringRunChosen("run-1", "keep running")]
    assert service.stops == 0
