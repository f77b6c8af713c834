"""The viewer and the hover show a person's own images: in colour, at display size,
from the stored thumbnail when the images are large."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, Qt

from app.ui.sample_viewer import IMAGE_PX
from domain.images import Dataset

from .conftest import activate, point_on_screen, send_mouse
from .test_map_and_labeling import isolated_sample


def coloured(count: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Random images whose middle half is each one colour of its own (so their points
    spread on the map, and the middle of any scaled copy is that colour exactly)."""
    rng = np.random.default_rng(5)
    colours = rng.integers(0, 256, (count, 3), dtype=np.uint8)
    images = rng.integers(0, 256, (count, height, width, 3), dtype=np.uint8)
    middle = (slice(None), slice(height // 4, 3 * height // 4), slice(width // 4, 3 * width // 4))
    images[middle] = colours[:, None, None, :]
    return images, colours


@pytest.fixture
def open_window(qtbot, make_session, application, tmp_path):
    def open_(images: np.ndarray):
        path = tmp_path / f"colour{images.shape[1]}x{images.shape[2]}.ledger"
        application.projects.create(path, Dataset(images, source="test colour")).close()
        session = make_session()
        session.window.resize(1200, 800)
        session.window.show()
        qtbot.waitExposed(session.window)
        activate(session.window)
        with qtbot.waitSignal(session.window.project_opened, timeout=20_000):
            session.open(path)
        qtbot.wait(50)
        session.window.map_view.plot.viewport().repaint()
        return session.window

    return open_


def shown(qtbot, window, sample: int):
    window.selection.move_current(sample)
    qtbot.waitUntil(lambda: window.viewer.title.text().startswith(f"Sample {sample:,} of"), timeout=3_000)
    return window.viewer.image.pixmap().toImage()


def colour_at_centre(image) -> tuple[int, int, int]:
    c = image.pixelColor(image.width() // 2, image.height() // 2)
    return c.red(), c.green(), c.blue()


def test_a_colour_64x64_project_shows_its_colours_at_display_size(qtbot, open_window):
    images, colours = coloured(40, 64, 64)
    window = open_window(images)
    for sample in (1, 2, 7):
        image = shown(qtbot, window, sample)
        assert (image.width(), image.height()) == (IMAGE_PX, IMAGE_PX)
        assert colour_at_centre(image) == tuple(colours[sample])


def test_a_300x200_project_shows_its_thumbnails_in_the_viewer_and_on_hover(qtbot, open_window):
    images, colours = coloured(12, 300, 200)
    window = open_window(images)
    image = shown(qtbot, window, 2)
    assert window.viewer.project.images().thumbnail_shape == (12, 128, 85, 3)
    # Aspect kept: 180 × 200/300 = 120 (119 through the 128×85 thumbnail).
    assert image.height() == IMAGE_PX and abs(image.width() - IMAGE_PX * 200 // 300) <= 1
    assert colour_at_centre(image) == tuple(colours[2])

    map_view = window.map_view
    sample = isolated_sample(map_view)
    viewport = map_view.plot.viewport()
    for offset in (QPoint(30, 30), QPoint(0, 0)):
        qtbot.wait(15)
        send_mouse(
            viewport,
            QEvent.Type.MouseMove,
            point_on_screen(map_view, sample) + offset,
            Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton,
        )
    qtbot.waitUntil(lambda: map_view.hover.isVisible(), timeout=3_000)
    hover = map_view.hover.pixmap().toImage()
    assert hover.height() == 96 and abs(hover.width() - 64) <= 1  # the 128×85 thumbnail, fitted to 96
    assert colour_at_centre(hover) == tuple(colours[sample])


def test_digits_stay_sharp_and_photographs_are_scaled_smoothly(qtbot):
    from app.ui.images import to_pixmap

    checker = (np.indices((28, 28)).sum(axis=0) % 2 * 255).astype(np.uint8)  # black and white only
    sharp = to_pixmap(checker, 56).toImage()
    greys = {sharp.pixelColor(x, y).red() for x in range(56) for y in range(56)}
    assert greys == {0, 255}  # every pixel one of the digit's own
    pixels = np.random.default_rng(0).integers(0, 2, (64, 64, 3), dtype=np.uint8) * 255
    photo = to_pixmap(pixels, 180)
    image = photo.toImage()
    levels = {image.pixelColor(x, 90).red() for x in range(180)}
    assert len(levels - {0, 255}) > 0  # blended between the pixels
