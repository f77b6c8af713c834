"""Issue 15 (soak): a window that opens and closes projects all day keeps only the open
one. Before, a project that had been trained stayed alive after it was closed (the run's
runner kept its reports, their training service and the project through the slots of its
signals), and with it its history, caches and predictions: the window's memory grew with
every reopening."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from app.ui import training_factory
from domain.dataset import load_dataset
from tests.gui.conftest import clustered_images

CYCLES = 4


def open_in(qtbot, session, path) -> None:
    with qtbot.waitSignal(session.window.project_opened, timeout=60_000):
        session.open(path)
    qtbot.wait(50)


def train(qtbot, session, epochs: int = 1) -> None:
    panel = session.window.training
    panel.runner.setCurrentIndex(panel.runner.findData("process"))
    for name, text in {"hidden_sizes": "16", "latent_size": "2", "epochs": str(epochs)}.items():
        if name in panel.fields:
            panel.fields[name][1].setText(text)
    assert panel.start_button.isEnabled(), panel.config_error.text()
    panel.start_button.click()
    qtbot.waitUntil(lambda: not session.training.is_running(), timeout=180_000)
    qtbot.wait(200)
    assert session.project.state.training.latest.status == "completed"


def test_projects_closed_after_a_run_and_after_reopening_are_freed(
    qtbot, make_session, application, project_path, tmp_path
):
    source = tmp_path / "other.npz"
    np.savez(source, images=clustered_images(120, seed=3), class_names=np.array([str(d) for d in range(10)]))
    other = tmp_path / "other.ledger"
    application.projects.create(other, load_dataset(source)).close()
    session = make_session(training_factory=training_factory(application))
    session.window.show()
    qtbot.waitExposed(session.window)

    open_in(qtbot, session, project_path)
    train(qtbot, session)  # the project that leaked: trained in this window
    closed = [weakref.ref(session.project)]
    for _ in range(CYCLES):
        open_in(qtbot, session, other)
        closed.append(weakref.ref(session.project))
        open_in(qtbot, session, project_path)
        closed.append(weakref.ref(session.project))
    still_open = closed.pop()
    qtbot.wait(200)
    gc.collect()

    alive = [ref() for ref in closed if ref() is not None]
    assert alive == [], f"{len(alive)} of {len(closed)} closed projects are still in memory"
    assert still_open() is session.project  # the open one is, and the window still works
    assert session.window.training.start_button.isEnabled()
