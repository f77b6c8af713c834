"""The history panel in the real window: the time slider shows every view as it was
(labels, map, curves — also in the middle of a training run), the past is read-only
with a banner and "Back to now", the event table filters and reads lazily, playback
advances, and "Branch from here" makes and opens a branch."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from app.project.projections import PROJECT_STREAM
from domain.events import LatentMapComputed
from domain.initial_map import encode_map
from domain.training_events import (
    EpochCompleted,
    PredictionsComputed,
    TrainingCompleted,
    TrainingStarted,
    run_stream,
)
from eventstore import NewEvent, open_store

from .conftest import SAMPLES


def history_ready(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.history_panel.table.isEnabled(), timeout=30_000)


def seen(window) -> dict:
    """What a person sees: labels (map colours, class counts), map points, curves."""
    return {
        "position": window.shown.position,
        "points": window.map_view.source_map.copy(),  # the map as recorded (the screen places it)
        "colours": window.map_view.points.colour_index.copy(),
        "buttons": [b.text() for b in window.label_panel.buttons],
    }


def press(qtbot, window, sample: int, key) -> None:
    window.selection.select_one(sample)
    QTest.keyClick(window, key)


def record_epoch(project, run_id: str, epoch: int, rng) -> None:
    """An epoch as a run records it: metrics, the epoch's latent map and predictions."""
    coords = rng.normal(size=(SAMPLES, 2)).astype(np.float32) * epoch
    probabilities = rng.dirichlet(np.ones(10), size=SAMPLES).astype(np.float32)
    buffer = io.BytesIO()
    np.save(buffer, probabilities)
    project.record(
        run_stream(run_id),
        [
            EpochCompleted(
                run_id,
                epoch,
                {
                    "loss": 10.0 / epoch,
                    "reconstruction": 8.0 / epoch,
                    "kl": 1.0,
                    "classification": 1.0 / epoch,
                    "accuracy": 0.2 * epoch,
                },
                project.position,
                3,
            ),
            LatentMapComputed(project.put_blob(encode_map(coords)), SAMPLES, 2, "vae-class-polygon", run_id),
            PredictionsComputed(run_id, epoch, project.put_blob(buffer.getvalue()), SAMPLES, 10, True),
        ],
    )


def go_to(qtbot, window, position: int) -> None:
    slider = window.history_panel.slider
    qtbot.waitUntil(lambda: slider.maximum() >= position, timeout=5_000)  # the slider grows with the log
    slider.setValue(position)  # what a drag of the slider does
    qtbot.waitUntil(lambda: window.travel.position == position, timeout=5_000)


def test_the_slider_shows_every_view_as_it_was_even_mid_run(qtbot, workbench):
    window, project = workbench.window, workbench.project
    rng = np.random.default_rng(0)
    history_ready(qtbot, window)
    captured = [seen(window)]
    press(qtbot, window, 0, Qt.Key.Key_3)
    press(qtbot, window, 5, Qt.Key.Key_7)
    captured.append(seen(window))
    project.record(run_stream("r1"), [TrainingStarted("r1", {}, 1, 3, project.position, "d", {}, "thread")])
    for epoch in (1, 2, 3):
        record_epoch(project, "r1", epoch, rng)
        captured.append(seen(window))  # the map of this epoch, as the window showed it live
        press(qtbot, window, 10 + epoch, Qt.Key.Key_1)  # labels given while the run trains
        captured.append(seen(window))
    project.record(run_stream("r1"), [TrainingCompleted("r1", 3)])
    now = seen(window)

    for then in captured[::-1] + captured[1::2]:  # backwards, then forwards again
        go_to(qtbot, window, then["position"])
        shown = seen(window)
        assert np.array_equal(shown["points"], then["points"]), f"map at {then['position']}"
        assert np.array_equal(shown["colours"], then["colours"]), f"labels at {then['position']}"
        assert shown["buttons"] == then["buttons"]
        assert window.banner.past
        assert f"as of position {then['position']:,}" in window.banner.text.text()
        assert "read-only" in window.banner.text.text()

    # Inside the run: the curves stop at that moment's epoch.
    mid = captured[5]  # after epoch 2's map and a label
    go_to(qtbot, window, mid["position"])
    assert list(window.training.curves["accuracy"].getData()[0]) == [1, 2]
    assert not window.training.start_button.isEnabled()

    qtbot.mouseClick(window.banner.back, Qt.MouseButton.LeftButton)
    assert not window.banner.past and window.travel.position is None
    assert np.array_equal(seen(window)["points"], now["points"])
    assert np.array_equal(seen(window)["colours"], now["colours"])


def test_the_past_is_read_only_and_new_events_do_not_pull_the_view_back(qtbot, workbench, project_path):
    window, project = workbench.window, workbench.project
    history_ready(qtbot, window)
    press(qtbot, window, 1, Qt.Key.Key_2)
    past = project.position
    press(qtbot, window, 2, Qt.Key.Key_4)
    go_to(qtbot, window, past)
    colours = window.map_view.points.colour_index.copy()

    before = project.event_count
    press(qtbot, window, 3, Qt.Key.Key_5)
    assert project.event_count == before, "a label was recorded in the past"
    assert "read-only" in window.statusBar().currentMessage()
    assert not any(b.isEnabled() for b in window.label_panel.buttons)

    # Someone else labels meanwhile: the window picks it up but stays in the past.
    with open_store(project_path) as store:
        store.append(
            PROJECT_STREAM,
            [
                NewEvent(
                    "LabelAssigned",
                    {"sample": 9, "label": 8, "previous": -1},
                    {"annotator": "bob", "at": 1.0},
                )
            ],
            project.state.stream_version,
        )
    qtbot.waitUntil(lambda: project.event_count == before + 1, timeout=5_000)
    assert window.travel.position == past and window.banner.past
    assert np.array_equal(window.map_view.points.colour_index, colours)
    qtbot.waitUntil(lambda: window.history_panel.slider.maximum() == project.position, timeout=5_000)

    qtbot.mouseClick(window.history_panel.back_button, Qt.MouseButton.LeftButton)
    assert not window.banner.past
    assert window.map_view.points.colour_index[9] == 8  # what arrived meanwhile shows now
    assert all(b.isEnabled() for b in window.label_panel.buttons)
    press(qtbot, window, 3, Qt.Key.Key_5)
    assert project.event_count == before + 2


def test_the_table_filters_by_type_and_annotator_and_a_row_moves_the_slider(qtbot, workbench, project_path):
    window, project = workbench.window, workbench.project
    press(qtbot, window, 1, Qt.Key.Key_2)
    with open_store(project_path) as store:
        store.append(
            PROJECT_STREAM,
            [
                NewEvent(
                    "LabelAssigned",
                    {"sample": 7, "label": 1, "previous": -1},
                    {"annotator": "bob", "at": 2.0},
                )
            ],
            project.state.stream_version,
        )
    project.refresh()
    history_ready(qtbot, window)
    panel = window.history_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == project.position, timeout=5_000)
    panel.annotator_filter.setCurrentIndex(panel.annotator_filter.findText("bob"))
    assert panel.model.rowCount() == 1
    assert panel.model.data(panel.model.index(0, 4)) == "sample 7: (none) -> 1"
    panel.annotator_filter.setCurrentIndex(0)
    panel.type_filter.setCurrentIndex(panel.type_filter.findText("LabelAssigned"))
    assert panel.model.rowCount() == 2
    assert {panel.model.data(panel.model.index(r, 2)) for r in range(2)} == {"tester", "bob"}

    first = panel.model.index(0, 0)
    panel.table.scrollTo(first)
    qtbot.mouseClick(
        panel.table.viewport(), Qt.MouseButton.LeftButton, pos=panel.table.visualRect(first).center()
    )
    target = panel.model.position_at(0)
    qtbot.waitUntil(lambda: window.travel.position == target, timeout=5_000)
    assert panel.slider.value() == target


@pytest.fixture
def long_log(tmp_path, application):
    """A project whose log holds 50,000 events (label events appended in batches)."""
    from domain.dataset import load_dataset

    from .conftest import clustered_images

    source = tmp_path / "long.npz"
    np.savez(source, images=clustered_images(SAMPLES), class_names=np.array([str(d) for d in range(10)]))
    target = tmp_path / "long.ledger"
    application.projects.create(target, load_dataset(source)).close()
    rng = np.random.default_rng(1)
    with open_store(target) as store:
        version, current = store.stream_version(PROJECT_STREAM), [-1] * SAMPLES
        for start in range(0, 50_000 - store.head(), 10_000):
            batch = []
            for i, (s, label) in enumerate(
                zip(rng.integers(0, SAMPLES, 10_000).tolist(), rng.integers(0, 10, 10_000).tolist())
            ):
                batch.append(
                    NewEvent(
                        "LabelAssigned",
                        {"sample": s, "label": label, "previous": current[s]},
                        {"annotator": "bulk", "at": 1.0 + start + i},
                    )
                )
                current[s] = label
            store.append(PROJECT_STREAM, batch, version)
            version += len(batch)
    return target


def test_the_table_reads_a_long_log_page_by_page(qtbot, make_session, long_log):
    session = make_session()
    window = session.window
    window.resize(1200, 800)
    window.show()
    with qtbot.waitSignal(window.project_opened, timeout=30_000):
        session.open(long_log)
    history_ready(qtbot, window)
    window.history_dock.raise_()
    panel, model = window.history_panel, window.history_panel.model
    head = session.project.head()
    assert model.rowCount() == head > 50_000
    panel.table.scrollToBottom()
    qtbot.wait(20)
    panel.table.scrollTo(model.index(25_000, 0))
    qtbot.wait(20)
    assert 0 < model.cached_rows() <= 10_000, "the table read far more rows than it shows"
    assert model.data(model.index(24_999, 0)) == "25,000"
    go_to(qtbot, window, 12_345)  # the table follows the slider
    qtbot.waitUntil(lambda: panel.table.currentIndex().row() == 12_344, timeout=5_000)
    assert model.cached_rows() <= 10_000


def test_play_advances_through_the_history_and_stops_at_the_end(qtbot, workbench):
    window = workbench.window
    for sample in range(4):
        press(qtbot, window, sample, Qt.Key.Key_1)
    history_ready(qtbot, window)
    panel = window.history_panel
    panel.speed.setCurrentIndex(panel.speed.findText("10 events/s"))
    shown = []
    window.travel.viewing.connect(shown.append)
    qtbot.mouseClick(panel.play_button, Qt.MouseButton.LeftButton)
    assert panel.play_button.text() == "■ Stop"
    qtbot.waitUntil(lambda: not window.travel.is_playing(), timeout=10_000)
    steps = [p for p in shown if p is not None]
    assert steps == sorted(steps) and len(steps) >= 3 and steps[0] == 1
    assert shown[-1] is None and not window.banner.past  # the end of the history is now
    assert panel.play_button.text() == "▶ Play"


def test_branch_from_here_opens_a_branch_and_leaves_the_parent_untouched(
    qtbot, workbench, monkeypatch, tmp_path, application
):
    window, parent = workbench.window, workbench.project
    parent_path = parent.path
    press(qtbot, window, 1, Qt.Key.Key_2)
    at = parent.position
    press(qtbot, window, 2, Qt.Key.Key_4)
    parent_labels = parent.labels.labels.copy()
    history_ready(qtbot, window)
    go_to(qtbot, window, at)
    target = tmp_path / "branch.ledger"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(window.project_opened, timeout=30_000):
        qtbot.mouseClick(window.history_panel.branch_button, Qt.MouseButton.LeftButton)
    branch = workbench.project
    assert branch.path == target and not window.banner.past
    assert branch.labels.label_of(1) == 2 and branch.labels.label_of(2) == -1
    press(qtbot, window, 6, Qt.Key.Key_6)
    assert branch.labels.label_of(6) == 6
    with application.projects.open(parent_path) as reopened:
        assert np.array_equal(reopened.labels.labels, parent_labels)
        assert reopened.position == at + 1


def test_play_epoch_by_epoch_shows_each_epochs_map_in_turn(qtbot, workbench):
    window, project = workbench.window, workbench.project
    rng = np.random.default_rng(4)
    project.record(run_stream("r2"), [TrainingStarted("r2", {}, 1, 3, project.position, "d", {}, "thread")])
    maps = {}
    for epoch in (1, 2, 3):
        record_epoch(project, "r2", epoch, rng)
        maps[project.position] = window.map_view.source_map.copy()
        press(qtbot, window, epoch, Qt.Key.Key_2)  # events between epochs are skipped over
    history_ready(qtbot, window)
    panel = window.history_panel
    panel.speed.setCurrentIndex(panel.speed.findText("epoch by epoch"))
    shown = []
    window.travel.viewing.connect(lambda p: shown.append((p, window.map_view.source_map.copy())))
    qtbot.mouseClick(panel.play_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.travel.is_playing(), timeout=10_000)
    assert [p for p, _ in shown] == list(maps)  # each epoch once, in order
    for (_, points), expected in zip(shown, maps.values()):
        assert np.array_equal(points, expected)  # the space as it was after that epoch
    assert window.banner.past  # the last epoch stays shown
