"""Labeling on the map with the real window: clicks, keys, rectangles, lassos, undo."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QColor, QPolygon

from app.ui import palette
from eventstore import open_store
from tests.gui.conftest import drag, point_on_screen, send_mouse

RED = palette.class_colours(10)[3]


def recorded(path):
    """The events in the file, read by a separate connection, as (type, data)."""
    with open_store(path) as store:
        return [(e.type, e.data) for e in store.read_all()]


def screen_points(map_view) -> np.ndarray:
    count = len(map_view.points.positions())
    return np.array([(p.x(), p.y()) for p in (point_on_screen(map_view, s) for s in range(count))])


def isolated_sample(map_view, min_gap_px: float = 8.0) -> int:
    pts = screen_points(map_view)
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return int(np.flatnonzero(d.min(axis=1) >= min_gap_px)[0])


def colour_at(map_view, sample: int) -> QColor:
    image = map_view.plot.grab().toImage()
    return image.pixelColor(point_on_screen(map_view, sample))


def test_a_click_selects_the_nearest_point_and_shows_it(qtbot, workbench):
    window = workbench.window
    map_view = window.map_view
    sample = isolated_sample(map_view)
    where = point_on_screen(map_view, sample) + QPoint(2, 1)
    qtbot.mouseClick(map_view.plot.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert window.selection.current == sample
    qtbot.waitUntil(lambda: window.viewer.title.text() == f"Sample {sample:,} of 300", timeout=2_000)
    assert window.viewer.label.text() == "Label: none"
    assert f"sample {sample:,}" in window.status.text()


def test_key_3_labels_the_clicked_sample_recolours_it_and_advances(qtbot, workbench):
    window, path = workbench.window, workbench.project.path
    map_view = window.map_view
    sample = isolated_sample(map_view)
    assert colour_at(map_view, sample) != RED
    qtbot.mouseClick(
        map_view.plot.viewport(), Qt.MouseButton.LeftButton, pos=point_on_screen(map_view, sample)
    )
    before = map_view.points.full_renders

    qtbot.keyClick(window, Qt.Key.Key_3)

    assert recorded(path)[-1] == ("LabelAssigned", {"sample": sample, "label": 3, "previous": -1})
    assert workbench.project.labels.label_of(sample) == 3
    assert colour_at(map_view, sample) == RED
    assert map_view.points.full_renders == before  # only the changed point was redrawn
    assert window.selection.current == sample + 1  # the next unlabeled sample
    assert window.label_panel.buttons[3].text().endswith("· 1")
    assert "1 of 300 samples labeled" in window.status.text()


def test_backspace_removes_the_label_and_arrows_move(qtbot, workbench):
    window, path = workbench.window, workbench.project.path
    window.selection.select_one(10)
    qtbot.keyClick(window, Qt.Key.Key_5)
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.selection.current == 10
    qtbot.waitUntil(lambda: window.viewer.label.text() == "Label: 5", timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_Backspace)
    assert recorded(path)[-1][0] == "LabelRemoved"
    qtbot.waitUntil(lambda: window.viewer.label.text() == "Label: none", timeout=2_000)
    assert colour_at(window.map_view, 10) != palette.class_colours(10)[5]
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.selection.current == 11


def test_undo_and_redo_from_the_keyboard(qtbot, workbench):
    window, project = workbench.window, workbench.project
    sample = isolated_sample(window.map_view)
    window.selection.select_one(sample)
    qtbot.keyClick(window, Qt.Key.Key_3)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert project.labels.label_of(sample) == -1
    assert window.selection.current == sample  # the undone sample is shown again
    qtbot.keyClick(window, Qt.Key.Key_Escape)  # its ring would cover its colour
    assert colour_at(window.map_view, sample) != RED
    assert recorded(project.path)[-1][0] == "LabelChangeUndone"
    qtbot.keyClick(
        window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert project.labels.label_of(sample) == 3
    assert colour_at(window.map_view, sample) == RED
    assert not window.labeling.redo_action.isEnabled()


def test_a_rectangle_selection_is_labeled_in_one_step(qtbot, workbench):
    window, project = workbench.window, workbench.project
    map_view = window.map_view
    viewport = map_view.plot.viewport()
    pts = screen_points(map_view)

    def square(centre, half):
        top_left = QPoint(int(centre[0]) - half, int(centre[1]) - half)
        bottom_right = QPoint(int(centre[0]) + half, int(centre[1]) + half)
        inside = np.flatnonzero(
            (pts[:, 0] >= top_left.x())
            & (pts[:, 0] <= bottom_right.x())
            & (pts[:, 1] >= top_left.y())
            & (pts[:, 1] <= bottom_right.y())
        )
        return top_left, bottom_right, inside

    # A square around a point with 2 to 50 points in it and none within 1 px of an edge
    # (screen points are rounded to pixels); where points lie depends on the screen's fonts.
    def clean(centre, half) -> bool:
        reach = np.abs(pts - np.trunc(centre)).max(axis=1)  # how far out a square must reach for each point
        return not (np.abs(reach - half) <= 1).any() and 1 < len(square(centre, half)[2]) <= 50

    centres = [pts[isolated_sample(map_view)], *pts[:: max(1, len(pts) // 30)]]
    centre, half = next((c, h) for c in centres for h in range(40, 10, -1) if clean(c, h))
    top_left, bottom_right, inside = square(centre, half)

    rectangle_mode = next(b for b in map_view.modes.buttons() if b.objectName() == "mode_rectangle")
    qtbot.mouseClick(rectangle_mode, Qt.MouseButton.LeftButton)
    drag(qtbot, viewport, top_left, [top_left + QPoint(10, 10), bottom_right])
    assert set(window.selection.samples.tolist()) == set(inside.tolist())
    qtbot.waitUntil(lambda: window.viewer.grid.count() == len(inside), timeout=2_000)

    qtbot.keyClick(window, Qt.Key.Key_7)
    assert recorded(project.path)[-1] == (
        "LabelsAssigned",
        {"samples": sorted(inside.tolist()), "label": 7, "previous": [-1] * len(inside)},
    )
    assert all(project.labels.label_of(s) == 7 for s in inside)
    qtbot.keyClick(window, Qt.Key.Key_Escape)  # the selection rings would hide the colours
    assert len(window.selection) == 0
    assert colour_at(map_view, int(inside[0])) == palette.class_colours(10)[7]
    assert window.label_panel.buttons[7].text().endswith(f"· {len(inside)}")


def test_labeling_more_than_50_asks_first(qtbot, workbench):
    window, project = workbench.window, workbench.project
    viewport = window.map_view.plot.viewport()
    corner = QPoint(2, 2)
    far = QPoint(viewport.width() - 2, viewport.height() - 2)
    drag(qtbot, viewport, corner, [corner + QPoint(5, 5), far], Qt.KeyboardModifier.ShiftModifier)
    assert len(window.selection) == 300
    events = project.event_count

    qtbot.keyClick(window, Qt.Key.Key_2)
    box = window.labeling.pending_confirmation
    assert box is not None and box.isVisible() and "300" in box.text()
    assert project.event_count == events  # nothing recorded before the answer
    qtbot.mouseClick(box.button(box.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert project.event_count == events and project.labels.labeled == 0

    qtbot.keyClick(window, Qt.Key.Key_2)
    box = window.labeling.pending_confirmation
    qtbot.mouseClick(box.button(box.StandardButton.Yes), Qt.MouseButton.LeftButton)
    assert project.labels.labeled == 300 and project.event_count == events + 1
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert project.labels.labeled == 0


def test_a_lasso_selects_the_points_inside_it(qtbot, workbench):
    window = workbench.window
    map_view = window.map_view
    viewport = map_view.plot.viewport()
    w, h = viewport.width(), viewport.height()
    triangle = [QPoint(w // 10, h // 10), QPoint(w * 9 // 10, h // 2), QPoint(w // 10, h * 9 // 10)]
    drag(
        qtbot,
        viewport,
        triangle[0],
        [triangle[0] + QPoint(3, 3), *triangle[1:], triangle[0]],
        Qt.KeyboardModifier.ControlModifier,
    )
    polygon = QPolygon(triangle)
    expected = {
        s
        for s, (x, y) in enumerate(screen_points(map_view))
        if polygon.containsPoint(QPoint(int(x), int(y)), Qt.FillRule.OddEvenFill)
    }
    got = set(window.selection.samples.tolist())
    assert len(expected) > 10
    # Points on the lasso's very edge may fall either way by a pixel.
    assert len(got ^ expected) <= 3


def test_hovering_a_point_shows_its_thumbnail(qtbot, workbench):
    map_view = workbench.window.map_view
    sample = isolated_sample(map_view)
    viewport = map_view.plot.viewport()
    for offset in (QPoint(30, 30), QPoint(0, 0)):  # arrive at the point, as a hand does
        qtbot.wait(15)
        send_mouse(
            viewport,
            QEvent.Type.MouseMove,
            point_on_screen(map_view, sample) + offset,
            Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton,
        )
    qtbot.waitUntil(lambda: map_view.hover.isVisible(), timeout=3_000)
    assert map_view.hover_sample == sample
    assert not map_view.hover.pixmap().isNull()


def test_a_new_latent_map_moves_the_points_and_keeps_the_selection(qtbot, workbench):
    from domain.initial_map import encode_map
    from eventstore import ANY, NewEvent

    window, project = workbench.window, workbench.project
    window.selection.select([4, 5, 6], current=5)
    # Ten times wider than the first map: the view must follow it to show the points.
    new_map = np.random.default_rng(1).uniform(-10, 10, size=(300, 2)).astype(np.float32)
    blob = encode_map(new_map)
    with open_store(project.path) as store:  # as a training worker's recorder would
        digest = store.put_blob(blob)
        store.append(
            "project",
            [
                NewEvent(
                    "LatentMapComputed",
                    {"map_sha256": digest, "samples": 300, "dims": 2, "method": "vae", "run_id": "r1"},
                )
            ],
            ANY,
        )
    qtbot.waitUntil(lambda: np.allclose(window.map_view.source_map, new_map), timeout=5_000)
    assert window.selection.samples.tolist() == [4, 5, 6] and window.selection.current == 5
    viewport = window.map_view.plot.viewport()
    qtbot.waitUntil(lambda: viewport.rect().contains(point_on_screen(window.map_view, 5)), timeout=2_000)
    image = window.map_view.plot.grab().toImage()
    assert image.pixelColor(point_on_screen(window.map_view, 5)) != palette.BACKGROUND


def test_next_unlabeled_and_next_most_uncertain(qtbot, workbench):
    window, project = workbench.window, workbench.project
    project.assign_label_to_many([0, 1, 2], 1)
    qtbot.keyClick(window, Qt.Key.Key_N)
    assert window.selection.current == 3
    qtbot.keyClick(window, Qt.Key.Key_U)
    assert "No predictions yet" in window.statusBar().currentMessage()
    predictions = np.full((300, 10), 0.0, dtype=np.float32)
    predictions[:, 0] = 1.0
    predictions[42] = 0.1  # a flat prediction: the most uncertain
    predictions[1] = 0.1  # flatter still, but already labeled
    project.predictions = lambda: predictions  # what the projection will offer
    qtbot.keyClick(window, Qt.Key.Key_U)
    assert window.selection.current == 42
    qtbot.waitUntil(lambda: window.viewer.prediction.text() == "Prediction: 0 (10%)", timeout=2_000)


def test_digits_typed_in_a_text_field_do_not_label(qtbot, workbench):
    from PySide6.QtWidgets import QLineEdit

    window, project = workbench.window, workbench.project
    window.selection.select_one(0)
    field = QLineEdit(window.label_panel)
    field.show()
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_3)
    assert field.text() == "3"
    assert project.labels.labeled == 0
