"""The window as a first-time user meets it (issue 16): controls in view at the default
and the minimum size, no value changed by a passing wheel, no "past" that sticks after
opening a project or a branch, a map that holds still, and a demo that leaves the
person's settings alone."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QSize, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from app.ui.main_window import DEFAULT_SIZE, display_name
from app.ui.widgets import percent
from domain.initial_map import encode_map
from eventstore import ANY, NewEvent, open_store

from .test_training_panel import open_with_training


def fully_visible(widget) -> bool:
    """Shown, inside the window, and not clipped by a scroll area or splitter."""
    window = widget.window()
    top_left = widget.mapTo(window, QPoint(0, 0))
    inside = window.rect().contains(top_left) and window.rect().contains(
        top_left + QPoint(widget.width() - 1, widget.height() - 1)
    )
    return widget.isVisible() and inside and widget.visibleRegion().boundingRect().size() == widget.size()


@pytest.mark.parametrize("size", ["default", "minimum"])
def test_start_is_in_view_without_scrolling(qtbot, make_session, project_path, size):
    session, _ = open_with_training(qtbot, make_session, project_path)
    window = session.window
    window.resize(DEFAULT_SIZE if size == "default" else window.minimumSize())
    qtbot.waitUntil(lambda: window.width() <= DEFAULT_SIZE.width(), timeout=2_000)
    qtbot.wait(50)
    panel = window.training
    for widget in (panel.start_button, panel.stop_button, panel.progress):
        assert fully_visible(widget), widget.objectName()
    assert panel.start_button.text() == "Start training"
    assert window.minimumSize().width() <= DEFAULT_SIZE.width()  # the default size is allowed


def test_the_wheel_over_an_unfocused_combo_box_changes_nothing(qtbot, make_session, project_path):
    session, _ = open_with_training(qtbot, make_session, project_path)
    runner = session.window.training.runner
    before = runner.currentIndex()
    centre = QPointF(runner.width() / 2, runner.height() / 2)
    for delta in (-120, 120, -120):
        event = QWheelEvent(
            centre,
            runner.mapToGlobal(centre),
            QPoint(0, 0),
            QPoint(0, delta),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(runner, event)
    assert not runner.hasFocus() and runner.currentIndex() == before


def test_opening_a_project_returns_from_the_past_to_now(qtbot, make_session, project_path):
    session, _ = open_with_training(qtbot, make_session, project_path)
    window = session.window
    window.selection.select_one(0)
    qtbot.keyClick(window, Qt.Key.Key_3)
    assert window.travel.go_to(1)
    assert window.banner.past and not window.training.start_button.isEnabled()
    with qtbot.waitSignal(window.project_opened, timeout=20_000):
        session.open(project_path)  # e.g. from Open Recent
    assert not window.travel.in_past and not window.banner.past
    assert window.training.start_button.isEnabled() and not window.training.viewing_past
    assert all(b.isEnabled() for b in window.label_panel.buttons)
    assert "read-only" not in window.status.text()


def test_a_branch_opens_at_now_and_says_whose_branch_it_is(qtbot, make_session, project_path, tmp_path):
    session, _ = open_with_training(qtbot, make_session, project_path)
    window = session.window
    for sample, key in ((1, Qt.Key.Key_2), (2, Qt.Key.Key_4)):
        window.selection.select_one(sample)
        qtbot.keyClick(window, key)
    at = session.project.position - 1
    assert window.travel.go_to(at)
    with qtbot.waitSignal(window.project_opened, timeout=30_000):
        session.branch(at, tmp_path / "what-if.ledger")
    assert not window.travel.in_past and not window.banner.past
    assert window.training.start_button.isEnabled()
    name = display_name(session.project)
    assert name == f"what-if — branch of {session.project.info.project_name} at {at:,}"
    assert window.windowTitle().startswith(name) and window.summary.name.text() == name


def record_map(project, coords: np.ndarray, run_id: str | None) -> None:
    with open_store(project.path) as store:  # as a training run's recorder would, from elsewhere
        digest = store.put_blob(encode_map(coords.astype(np.float32)))
        store.append(
            "project",
            [
                NewEvent(
                    "LatentMapComputed",
                    {
                        "map_sha256": digest,
                        "samples": len(coords),
                        "dims": 2,
                        "method": "vae",
                        "run_id": run_id,
                    },
                )
            ],
            ANY,
        )


def residual(a: np.ndarray, b: np.ndarray) -> float:
    """How far ``a`` is from ``b``, relative to ``b``'s spread."""
    spread = np.sqrt(((b - b.mean(axis=0)) ** 2).sum(axis=1).mean())
    return float(np.sqrt(((a - b) ** 2).sum(axis=1).mean()) / spread)


def test_successive_maps_keep_their_orientation(qtbot, workbench):
    window, project = workbench.window, workbench.project
    view = window.map_view
    assert view.note.isVisible() and "pixel PCA" in view.note.text()  # the untrained map says so
    shown = view.points.positions().copy()
    rng = np.random.default_rng(5)
    source = view.source_map.astype(np.float64)
    for run, (angle, mirror, scale) in enumerate(((2.0, True, 40.0), (-1.0, False, 0.01), (2.8, True, 7.0))):
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        if mirror:
            turn = turn @ np.diag([1.0, -1.0])
        moved = (source @ turn) * scale + rng.normal(size=2) * 100 * scale
        moved += rng.normal(scale=0.02 * scale * source.std(), size=moved.shape)  # a slightly different map
        record_map(project, moved, f"run-{run}")  # every map its own run: a new run's first map
        qtbot.waitUntil(lambda m=moved: np.allclose(view.source_map, m), timeout=5_000)
        placed = view.points.positions()
        assert residual(placed, shown) < 0.1, f"map {run} moved on screen"
        assert residual(moved, shown) > 1.0  # as recorded, it was turned, mirrored and scaled
        assert not view.note.isVisible()
    assert window.map_view.plot.getPlotItem().getAxis("bottom").labelText == ""


def test_a_pinned_layout_waits_until_the_person_asks_for_the_new_map(qtbot, workbench):
    window, project = workbench.window, workbench.project
    view = window.map_view
    view.pin.setChecked(True)
    before = view.points.positions().copy()
    other = np.random.default_rng(2).normal(size=before.shape)
    record_map(project, other, "run-9")
    qtbot.waitUntil(lambda: view.new_map_waiting, timeout=5_000)
    assert np.array_equal(view.points.positions(), before) and "new map" in view.pin.text()
    view.pin.setChecked(False)
    assert np.allclose(view.source_map, other) and not view.new_map_waiting


def test_a_digit_with_nothing_selected_says_what_to_do(qtbot, workbench):
    window = workbench.window
    window.selection.clear()
    qtbot.keyClick(window, Qt.Key.Key_3)
    assert "Nothing selected" in window.statusBar().currentMessage()
    assert workbench.project.labels.labeled == 0


def test_one_rounding_rule_for_percentages():
    assert [percent(p) for p in (0.965, 0.969, 0.5, 0.004, 1.0)] == ["97%", "97%", "50%", "0%", "100%"]


def test_the_status_says_training_once_and_a_long_failure_does_not_widen_the_form(
    qtbot, make_session, project_path
):
    session, service = open_with_training(qtbot, make_session, project_path)
    window, panel = session.window, session.window.training
    panel.start()
    service.epoch_recorded.emit(
        {
            "run_id": "run-1",
            "epoch": 1,
            "metrics": {"loss": 5.0, "accuracy": 1.0, "heldout_correct": 193.0, "heldout_n": 200.0},
        }
    )
    assert window.training_status.text().startswith("training: epoch 1 of 3, accuracy 97% (95% interval")
    width = panel.start_button.width()
    service.running = False
    service.run_ended.emit({"run_id": "run-1", "status": "failed", "message": "x" * 3000 + "\nTraceback…"})
    qtbot.wait(50)
    assert panel.start_button.width() == width and fully_visible(panel.start_button)
    assert window.training_status.text().startswith("last run failed, accuracy 97%")


def test_the_layout_is_kept_between_launches(qtbot, make_session, project_path, settings):
    first = make_session()
    first.window.show()
    # A size this screen holds (the offscreen one can be narrower than 1270 px): on a
    # window the second launch must make smaller, the share cannot be kept.
    screen = first.window.screen().availableGeometry().size()
    first.window.resize(QSize(1270, 850).boundedTo(screen).expandedTo(first.window.minimumSize()))
    sizes = [700, 560]
    first.window.splitter.setSizes(sizes)
    qtbot.wait(20)
    kept, size = first.window.splitter.sizes(), first.window.size()
    first.window.close()
    second = make_session()
    # As saved, but never larger than this screen nor smaller than the minimum size.
    room = second.window.screen().availableGeometry().size()
    expected = size.boundedTo(room).expandedTo(second.window.minimumSize())
    assert second.window.width() == expected.width()
    assert abs(second.window.height() - expected.height()) <= 40  # the frame, on some platforms
    second.window.show()
    qtbot.wait(20)
    restored = second.window.splitter.sizes()
    assert abs(restored[0] / sum(restored) - kept[0] / sum(kept)) < 0.05  # the map's share is kept


@pytest.mark.slow
def test_the_demo_leaves_the_persons_settings_and_data_alone(tmp_path, qapp):
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "QT_QPA_PLATFORM": "offscreen",
        "LEDGERLAB_ANNOTATOR": "demo",
    }
    env.pop("LEDGERLAB_DATA_DIR", None)
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "demo",
            "--screenshot",
            str(shot),
            "--labels",
            "20",
            "--epochs",
            "1",
            "--runner",
            "thread",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert shot.exists() and (tmp_path / "shot-minimum.png").exists()
    assert not (home / ".config" / "Ledgerlab").exists()  # no settings, no recent projects
    assert not (home / ".local" / "share" / "ledgerlab").exists()  # no data folder


def test_closing_during_a_run_asks_whether_to_stop_it(qtbot, make_session, project_path):
    session, service = open_with_training(qtbot, make_session, project_path)
    window = session.window
    window.training.start()
    window.close()
    box = window.close_question
    assert box is not None and window.isVisible() and service.running  # nothing decided yet
    keep = next(b for b in box.buttons() if b.text() == "Keep training")
    qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=2_000)
    assert window.close_choice == "keep" and service.stops == 0
    assert "keeps training until it ends" in window.training.log.toPlainText()
