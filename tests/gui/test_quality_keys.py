"""The keys of issue 13 on the real window: S (next suggested), U (most uncertain, the
same machinery), F (next flagged label) and K (keep it); the map's marks and its
"label ≠ prediction" colouring; the viewer saying why a sample is pointed at."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.project.bootstrap import bootstrap
from eventstore import open_store
from tests.gui.conftest import SAMPLES


def types(path):
    with open_store(path) as store:
        return [e.type for e in store.read_all()]


def idle(window):
    return not window.labeling.jobs


def test_s_asks_for_suggestions_in_the_background_then_walks_the_queue(qtbot, workbench):
    window, project = workbench.window, workbench.project
    qtbot.keyClick(window, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: "SuggestionsMade" in types(project.path) and idle(window), timeout=20_000)
    batch = project.state.extras["quality"].suggestions
    assert batch.strategy == "typical" and len(batch.items) == 10
    queued = [s.sample for s in batch.items]
    # Ten clusters of images, ten labels to come: one typical sample of each cluster.
    assert sorted(s % 10 for s in queued) == list(range(10))
    assert window.selection.current == queued[0]
    qtbot.waitUntil(
        lambda: window.viewer.review.text().startswith("Suggested (typical): most typical"), timeout=2_000
    )
    assert sorted(window.map_view.marked_queue.tolist()) == sorted(queued)
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert window.selection.current == queued[1]
    # Labeling a suggested sample moves on to the next suggested one, and it leaves the queue.
    qtbot.keyClick(window, Qt.Key.Key_1)
    assert window.selection.current == queued[2]
    assert queued[1] not in window.map_view.marked_queue.tolist()
    assert types(project.path).count("SuggestionsMade") == 1


def test_u_records_uncertain_suggestions_and_walks_them(qtbot, workbench):
    window, project = workbench.window, workbench.project
    predictions = np.zeros((SAMPLES, 10), dtype=np.float32)
    predictions[:, 0] = 1.0
    predictions[[42, 77]] = 0.1
    project.predictions = lambda: predictions
    qtbot.keyClick(window, Qt.Key.Key_U)
    assert window.selection.current in (42, 77)
    first = window.selection.current
    qtbot.keyClick(window, Qt.Key.Key_U)
    assert window.selection.current == ({42, 77} - {first}).pop()
    assert types(project.path).count("SuggestionsMade") == 1
    assert project.state.extras["quality"].suggestions.strategy == "uncertain"


def test_f_flags_a_flipped_label_k_keeps_it(qtbot, workbench):
    window, project = workbench.window, workbench.project
    samples = list(range(60))
    for label in range(10):
        project.assign_label_to_many([s for s in samples if s % 10 == label], label)
    project.assign_label(13, 7)  # truly a 3
    qtbot.keyClick(window, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: "LabelIssuesFlagged" in types(project.path) and idle(window), timeout=30_000)
    flags = project.state.extras["quality"].flags
    assert flags[0].sample == 13 and flags[0].suggested == 3
    assert window.selection.current == 13
    qtbot.waitUntil(
        lambda: window.viewer.review.text().startswith("Flagged: labeled 7, but looks like 3"), timeout=2_000
    )
    assert 13 in window.map_view.marked_flags.tolist()
    qtbot.keyClick(window, Qt.Key.Key_K)
    assert types(project.path)[-1] == "LabelIssueDismissed"
    assert 13 not in window.map_view.marked_flags.tolist()
    qtbot.waitUntil(lambda: "Flagged" not in window.viewer.review.text(), timeout=2_000)
    window.selection.select_one(0)
    qtbot.keyClick(window, Qt.Key.Key_F)  # nothing open, nothing due: said so, nothing computed
    assert idle(window) and "No open flags" in window.statusBar().currentMessage()


def test_f_shows_annotators_who_disagree(qtbot, workbench, tmp_path):
    window, project = workbench.window, workbench.project
    project.assign_label(5, 5)
    other = bootstrap(annotator="bob", data_dir=tmp_path / "bob")
    with other.projects.open(project.path) as theirs:
        theirs.assign_label(5, 8)
    qtbot.waitUntil(lambda: project.labels.label_of(5) == 8, timeout=5_000)  # followed
    window.selection.select_one(0)
    qtbot.keyClick(window, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: window.selection.current == 5 and idle(window), timeout=30_000)
    qtbot.waitUntil(
        lambda: "Annotators disagree: bob says 8, tester says 5" in window.viewer.review.text(), timeout=2_000
    )


def test_colour_by_label_differs_from_prediction(qtbot, workbench):
    window, project = workbench.window, workbench.project
    project.assign_label_to_many([0, 1], 4)
    predictions = np.zeros((SAMPLES, 10), dtype=np.float32)
    predictions[:, 4] = 1.0
    predictions[1] = np.eye(10, dtype=np.float32)[6]  # sample 1 is labeled 4, predicted 6
    project.predictions = lambda: predictions
    combo = window.map_view.colour_choice
    combo.setCurrentIndex(combo.findData("mismatch"))
    index = window.map_view.points.colour_index
    assert index[1] == 4  # solid: label and prediction differ
    assert index[0] == 10 + 1 + 4  # faint: they agree
    assert index[2] == 10  # unlabeled stays grey
