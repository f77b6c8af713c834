"""Projects and files from the window: recent projects, creating from a .npz with a
progress dialog, exports, and errors shown as messages that say what to do."""

from __future__ import annotations

import csv

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QPushButton

from tests.gui.conftest import activate, clustered_images


def test_the_last_opened_project_is_offered_at_the_next_launch(qtbot, make_session, project_path, settings):
    first = make_session()
    assert first.last_project() is None  # a first launch opens the default project
    with qtbot.waitSignal(first.window.project_opened, timeout=20_000):
        first.open(project_path)
    first.window.close()
    first.shutdown()

    again = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    second = make_session()
    assert second.recent.paths() == [project_path]
    assert second.last_project() == project_path
    assert again.value("geometry") is not None  # the window's geometry was kept
    with qtbot.waitSignal(second.window.project_opened, timeout=20_000):
        second.open(second.last_project())
    assert second.window.summary.samples.text() == "300"


def test_a_last_project_that_was_deleted_falls_back_to_the_default(qtbot, make_session, project_path):
    session = make_session()
    session.recent.add(project_path)
    project_path.unlink()
    assert session.last_project() is None


def test_a_new_project_from_an_npz_file_opens_in_the_window(qtbot, make_session, tmp_path):
    source = tmp_path / "shapes.npz"
    np.savez(
        source, images=clustered_images(120, seed=3), class_names=np.array(["circle", "square", "triangle"])
    )
    session = make_session()
    session.window.show()
    activate(session.window)  # key presses reach only the active window
    with qtbot.waitSignal(session.window.project_opened, timeout=20_000):
        session.create(tmp_path / "shapes.ledger", "npz", source)
    window = session.window
    assert window.summary.samples.text() == "120"
    buttons = [b.text() for b in window.label_panel.buttons]
    # S is the key for the next suggested sample, so "square" keeps only its number
    assert buttons == ["[0, C] circle · 0", "[1] square · 0", "[2, T] triangle · 0"]
    assert session.recent.paths()[0] == tmp_path / "shapes.ledger"
    window.selection.select_one(0)
    qtbot.keyClick(window, Qt.Key.Key_T)  # a named class's first letter labels too
    assert session.project.labels.label_of(0) == 2


def test_a_bad_dataset_is_explained_and_creates_no_file(qtbot, make_session, tmp_path):
    source = tmp_path / "not-images.npz"
    np.savez(source, pixels=np.zeros((3, 4, 4)))
    session = make_session()
    session.create(tmp_path / "bad.ledger", "npz", source)
    qtbot.waitUntil(lambda: session.window.last_error is not None, timeout=10_000)
    assert "no 'images' array" in session.window.last_error.text()
    assert "Traceback" not in session.window.last_error.text()
    assert not (tmp_path / "bad.ledger").exists()
    assert session.project is None


def test_a_cancelled_import_opens_nothing(qtbot, make_session, tmp_path):
    source = tmp_path / "digits.npz"
    np.savez(source, images=clustered_images(100))
    session = make_session()
    job = session.create(tmp_path / "cancelled.ledger", "npz", source)
    dialog = session.progress_dialog
    dialog.show()
    qtbot.mouseClick(dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(job.finished, timeout=10_000):
        pass
    qtbot.wait(50)  # a result queued just before the cancel is delivered too
    assert session.project is None and session.window.project is None
    assert session.window.statusBar().currentMessage().startswith("Cancelled")


def test_labels_are_exported_in_the_background(qtbot, workbench, tmp_path):
    project = workbench.project
    project.assign_label(4, 2)
    project.assign_label(9, 7)
    target = tmp_path / "labels.csv"
    job = workbench.export("labels", target)
    with qtbot.waitSignal(job.finished, timeout=10_000):
        pass
    rows = list(csv.DictReader(target.open()))
    assert [(r["sample"], r["label"], r["annotator"]) for r in rows] == [
        ("4", "2", "tester"),
        ("9", "7", "tester"),
    ]
    assert "Exported 2 labels" in workbench.window.statusBar().currentMessage()


def test_an_export_to_a_missing_folder_says_what_to_do(qtbot, workbench, tmp_path):
    workbench.export("events", tmp_path / "nowhere" / "events.jsonl")
    qtbot.waitUntil(lambda: workbench.window.last_error is not None, timeout=10_000)
    assert "does not exist" in workbench.window.last_error.text()


def test_open_recent_lists_projects_and_opens_the_chosen_one(qtbot, make_session, project_path, tmp_path):
    other = tmp_path / "other.ledger"
    source = tmp_path / "other.npz"
    np.savez(source, images=clustered_images(50, seed=9))
    from domain.dataset import load_dataset

    session = make_session()
    session.app.projects.create(other, load_dataset(source)).close()
    for path in (project_path, other):
        with qtbot.waitSignal(session.window.project_opened, timeout=20_000):
            session.open(path)
    menu = session.menus.recent
    menu.aboutToShow.emit()
    entries = [a.text() for a in menu.actions()]
    assert entries == [str(other), str(project_path)]  # most recent first
    with qtbot.waitSignal(session.window.project_opened, timeout=20_000):
        menu.actions()[1].trigger()
    assert session.project.path == project_path
    assert session.window.summary.samples.text() == "300"
