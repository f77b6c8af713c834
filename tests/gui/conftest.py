"""Fixtures of the window tests: small synthetic projects (300 8×8 images in ten
clusters, created through the real service), a session factory that shuts every
session down, and helpers that drive the map with real mouse events."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.project.bootstrap import bootstrap
from app.ui.session import Session

SAMPLES = 300


def clustered_images(samples: int, seed: int = 7, side: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, size=(10, side, side))
    noise = rng.normal(0, 20, size=(samples, side, side))
    return np.clip(templates[np.arange(samples) % 10] + noise, 0, 255).astype(np.uint8)


@pytest.fixture
def application(tmp_path):
    return bootstrap(annotator="tester", data_dir=tmp_path / "data")


@pytest.fixture
def project_path(tmp_path, application):
    source = tmp_path / "digits.npz"
    np.savez(source, images=clustered_images(SAMPLES), class_names=np.array([str(d) for d in range(10)]))
    from domain.dataset import load_dataset

    target = tmp_path / "digits.ledger"
    application.projects.create(target, load_dataset(source)).close()
    return target


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_session(qtbot, application, settings):
    sessions = []

    def make(training_factory=None) -> Session:
        session = Session(application, settings, training_factory=training_factory)
        qtbot.addWidget(session.window)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.shutdown()


@pytest.fixture
def workbench(qtbot, make_session, project_path):
    """A shown window with the small project open and laid out."""
    session = make_session()
    session.window.resize(1200, 800)
    session.window.show()
    qtbot.waitExposed(session.window)
    activate(session.window)
    with qtbot.waitSignal(session.window.project_opened, timeout=20_000):
        session.open(project_path)
    # Let the layout settle (the side panel fills in after the project opens), so
    # points stay where the test measured them.
    qtbot.wait(50)
    session.window.map_view.plot.viewport().repaint()
    return session


def activate(window) -> None:
    """Make ``window`` the active one, as a person's click would: shortcuts (the class
    keys) reach only the active window, and under a real X server (Xvfb) a shown window
    is not active by itself."""
    window.raise_()
    window.activateWindow()
    QTest.qWaitForWindowActive(window, 5_000)


# --- driving the map with the mouse ---------------------------------------------------


def point_on_screen(map_view, sample: int) -> QPoint:
    """Where ``sample`` is drawn, in the map viewport's widget coordinates."""
    x, y = map_view.points.positions()[sample]
    scene = map_view.view_box.mapViewToScene(QPointF(float(x), float(y)))
    return map_view.plot.mapFromScene(scene)


def send_mouse(widget, kind, pos: QPoint, button, buttons, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    local = QPointF(pos)
    event = QMouseEvent(kind, local, widget.mapToGlobal(local), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def drag(qtbot, widget, start: QPoint, path: list[QPoint], modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """Press at ``start``, move through ``path`` with the left button held, release at its end.

    Moves are spaced like a hand's: pyqtgraph drops moves closer than 10 ms apart."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send_mouse(widget, QEvent.Type.MouseButtonPress, start, left, left, modifiers)
    for p in path:
        qtbot.wait(15)
        send_mouse(widget, QEvent.Type.MouseMove, p, none, left, modifiers)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, path[-1], left, none, modifiers)
