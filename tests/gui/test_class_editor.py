"""Label → Add class… and Rename class…: a person grows and renames the class list from
the window, gets a button and a key for the new class at once, and a taken name is
refused with the domain's sentence, nothing recorded."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton

from eventstore import open_store


def types(path):
    with open_store(path) as store:
        return [e.type for e in store.read_all()]


def button_texts(window):
    return [b.text() for b in window.label_panel.findChildren(QPushButton)]


def label_menu_texts(window):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Label")
    return [a.text() for a in menu.actions()]


def test_a_class_added_from_the_menu_gets_a_button_and_a_key(qtbot, workbench):
    window, project = workbench.window, workbench.project
    assert "Add &class…" in label_menu_texts(window)
    dialog = workbench.menus.classes.ask_new_class()
    assert dialog is not None and dialog.isVisible()
    dialog.setTextValue("  cat ")
    dialog.accept()
    qtbot.waitUntil(lambda: list(project.info.class_names)[-1] == "cat", timeout=5_000)
    qtbot.waitUntil(lambda: any("cat" in t for t in button_texts(window)), timeout=5_000)
    window.selection.select_one(5)
    qtbot.keyClick(window, Qt.Key.Key_C)  # the first letter of a name no other class starts with
    qtbot.waitUntil(lambda: int(project.labels.labels[5]) == 10, timeout=5_000)
    assert types(project.path).count("ClassAdded") == 1


def test_rename_from_the_menu_and_a_taken_name_is_refused(qtbot, workbench):
    window, project = workbench.window, workbench.project
    dialog = workbench.menus.classes.ask_rename()
    assert dialog is not None
    dialog.which.setCurrentIndex(3)
    assert dialog.new_name.text() == "3"  # starts from the current name
    dialog.new_name.setText("three")
    dialog.accept()
    qtbot.waitUntil(lambda: list(project.info.class_names)[3] == "three", timeout=5_000)
    qtbot.waitUntil(lambda: any("three" in t for t in button_texts(window)), timeout=5_000)
    before = types(project.path)
    again = workbench.menus.classes.ask_rename()
    again.which.setCurrentIndex(4)
    again.new_name.setText("three")
    again.accept()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=5_000)
    assert "three" in window.last_error.text() and "already" in window.last_error.text()
    assert types(project.path) == before
    assert list(project.info.class_names)[4] == "4"


def test_a_project_without_classes_says_so_and_offers_to_add_one(qtbot, make_session, tmp_path, application):
    import numpy as np

    from domain.dataset import load_dataset

    from .conftest import activate, clustered_images

    source = tmp_path / "unnamed.npz"
    np.savez(source, images=clustered_images(40))  # images only: no class names
    target = tmp_path / "unnamed.ledger"
    application.projects.create(target, load_dataset(source)).close()
    session = make_session()
    window = session.window
    window.show()
    activate(window)
    with qtbot.waitSignal(window.project_opened, timeout=20_000):
        session.open(target)
    project = session.project
    assert list(project.info.class_names) == []
    hint = window.label_panel.no_classes
    assert hint.isVisible() and "no classes yet" in hint.findChild(QLabel).text()
    qtbot.mouseClick(window.label_panel.add_class_button, Qt.MouseButton.LeftButton)
    dialog = session.menus.classes.dialog
    assert dialog is not None and dialog.isVisible()
    dialog.setTextValue("cat")
    dialog.accept()
    qtbot.waitUntil(lambda: list(project.info.class_names) == ["cat"], timeout=5_000)
    qtbot.waitUntil(lambda: not hint.isVisible(), timeout=5_000)
    assert any("cat" in t for t in button_texts(window))
